"""Writes notebooks/language-models.ipynb (cells only; execute it with the tslab kernel).

    /usr/bin/python3 experiments/make_lm_notebook.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/language-models.ipynb

The zoo it loads is built by stdlib/lm/zoo.ts (trained on first use, cached under notebooks/.cache/language-models).
"""
import pathlib
import nbformat

from notebook_files import write_notebook

root = pathlib.Path(__file__).resolve().parent.parent
md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

cells = [
    md("""# Merging language models, evaluated where you merge them

The seed study's loop — merge, evaluate, compare — on **causal language models**. A zoo of tiny Llama-architecture
models (ordinary Hugging Face checkpoints: `config.json`, `model.safetensors`, a byte-level `tokenizer.json`) is
trained from text that every checkout has after `npm ci`: the files of the packages in `node_modules`, in four
**genres** — software licenses (`LICENSE`), changelogs (`CHANGELOG.md`), READMEs (`README.md`) and TypeScript
declarations (`index.d.ts`).

* **base**: trained from scratch on the held-in files of all four genres, interleaved;
* **experts**: the base fine-tuned on one genre each;
* **held-in / held-out**: every 4th file of a genre (sorted by package) is held out — never trained on by any model;
* **merges**: average, task arithmetic, TIES and DARE-TIES of the four experts, **never saved**: `perplexity` and
  `loglik_choice` stream each merge's layers from the engine;
* **metrics**: bits per byte (= log₂ perplexity per byte; the tokenizer is one token per byte) on held-in and held-out
  text of each genre, and multiple-choice accuracy: given 48 characters of a held-out file, pick its true next 24
  characters among 4 (the 3 distractors are spans of other held-out files of the same genre).

The zoo (`stdlib/lm/zoo.ts`: hidden size 64, 2 layers, context 64, 257-token vocabulary) is trained on first use and
cached under `.cache/language-models`; from an empty cache it takes about two minutes on two shared cores."""),
    code("""import { initRuntime, mx, plot, display, lm, Table } from "mergelab";
await initRuntime();

const zoo = await lm.buildZoo({ cacheDir: ".cache/language-models" });
const m = zoo.manifest;
console.log(zoo.built ? `zoo trained in this run: ${m.seconds.toFixed(0)} s` : `zoo from the cache (trained in ${m.seconds.toFixed(0)} s when built)`);
console.log(`model: ${JSON.stringify({ hidden: m.spec.config.hidden_size, layers: m.spec.config.num_hidden_layers, context: m.spec.config.max_position_embeddings })}; ` +
  `base ${m.spec.base.steps} steps, experts ${m.spec.expert.steps} steps, batch ${m.spec.base.batch} × ${m.spec.base.seqLen} bytes`);
display(new Table(["genre", "held-in files", "held-out files", "held-in bytes", "expert's final training loss (nats/byte)"],
  lm.GENRES.map((g) => [g, m.documents[g].held_in, m.documents[g].held_out, m.documents[g].held_in_bytes, +m.loss[`expert-${g}`].toFixed(3)])));"""),
    md("## The zoo and four merges"),
    code("""const base = await mx`load(${zoo.base}, label="base")`;
const experts: Record<string, unknown> = {};
for (const g of lm.GENRES) experts[g] = await mx`load(${zoo.experts[g]}, label=${"expert-" + g})`;
const all = Object.values(experts);

const merges: Record<string, unknown> = {
  average: await mx`average(${all})`,
  task_arithmetic: await mx`task_arithmetic(${all}, base=${base}, λ=0.5)`,
  ties: await mx`ties(${all}, base=${base}, k=0.3)`,
  dare_ties: await mx`dare_ties(${all}, base=${base}, p=0.7, seed=7)`,
};
display(await mx`explain(ties(${all}, base=${base}, k=0.3))`);"""),
    md("""## Evaluation

Every model on every genre: bits per byte on 6 held-in and 6 held-out passages (320 bytes each), and accuracy on 16
multiple-choice items from held-out files. The merges are evaluated lazily: their weights are computed layer by layer
while the forward pass runs, and never written to disk."""),
    code("""const models: Record<string, unknown> = { base: base, ...Object.fromEntries(lm.GENRES.map((g) => [`expert-${g}`, experts[g]])), ...merges };
const col = (t: Table, name: string) => t.rows[0][t.columns.indexOf(name)] as number;
const rows: Array<Record<string, any>> = [];
for (const [name, model] of Object.entries(models)) {
  for (const g of lm.GENRES) {
    const d = zoo.data[g];
    const hin = (await mx`perplexity(${model}, ${d.heldIn})`) as Table;
    const hout = (await mx`perplexity(${model}, ${d.heldOut})`) as Table;
    const mc = (await mx`loglik_choice(${model}, ${d.choice})`) as Table;
    rows.push({ model: name, genre: g, held_in_bpb: col(hin, "bits_per_byte"), held_out_bpb: col(hout, "bits_per_byte"),
      held_out_ppl: col(hout, "perplexity"), acc: col(mc, "acc"), acc_norm: col(mc, "acc_norm") });
  }
}
const r3 = (x: number) => +x.toFixed(3);
display(new Table(["model", "genre", "held-in bits/byte", "held-out bits/byte", "held-out perplexity", "choice acc", "choice acc_norm"],
  rows.map((r) => [r.model, r.genre, r3(r.held_in_bpb), r3(r.held_out_bpb), r3(r.held_out_ppl), r3(r.acc), r3(r.acc_norm)])));"""),
    md("### Per model, averaged over the four genres"),
    code("""const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const s0 = (name: string) => mean(rows.filter((r) => r.model === name).map((r) => r.held_out_bpb));
const summary = Object.keys(models).map((name) => {
  const rs = rows.filter((r) => r.model === name);
  return { model: name, held_in_bpb: mean(rs.map((r) => r.held_in_bpb)), held_out_bpb: mean(rs.map((r) => r.held_out_bpb)), acc: mean(rs.map((r) => r.acc)) };
});
display(new Table(["model", "held-in bits/byte", "held-out bits/byte", "choice acc (64 items)"], summary.map((s) => [s.model, r3(s.held_in_bpb), r3(s.held_out_bpb), r3(s.acc)])));
display(plot.bar(summary.flatMap((s) => [{ model: s.model, split: "held-in", bpb: s.held_in_bpb }, { model: s.model, split: "held-out", bpb: s.held_out_bpb }]),
  { x: "model", y: "bpb", color: "split", title: "Bits per byte, mean over genres (lower is better)", ylabel: "bits per byte" }));"""),
    md("""### Genre by genre

Each merge against the base and the genre's own expert (the merges' ceiling on that genre)."""),
    code("""const shown = ["base", "expert", ...Object.keys(merges)];
const byGenre = rows.flatMap((r) => {
  const who = r.model.startsWith("expert-") ? (r.model === `expert-${r.genre}` ? "expert" : null) : r.model;
  return who ? [{ genre: r.genre, model: who, held_out_bpb: r.held_out_bpb, acc: r.acc }] : [];
});
byGenre.sort((a, b) => shown.indexOf(a.model) - shown.indexOf(b.model));
display(plot.bar(byGenre, { x: "genre", y: "held_out_bpb", color: "model", title: "Held-out bits per byte by genre (lower is better)", ylabel: "bits per byte" }));"""),
    code("""display(plot.bar(byGenre, { x: "genre", y: "acc", color: "model", title: "Multiple choice: true continuation among 4 (chance 0.25)", ylabel: "accuracy" }));"""),
    md("""### How much of each expert's gain a merge keeps

Gap closed on genre g = (base bpb − merge bpb) / (base bpb − expert-g bpb) on held-out text: 1 means the merge is as
good as the genre's own expert, 0 means no better than the base."""),
    code("""const gap = Object.keys(merges).flatMap((name) => lm.GENRES.map((g) => {
  const get = (model: string) => rows.find((r) => r.model === model && r.genre === g)!.held_out_bpb;
  return { method: name, genre: g, gap_closed: (get("base") - get(name)) / (get("base") - get(`expert-${g}`)) };
}));
display(new Table(["method", ...lm.GENRES, "mean"], Object.keys(merges).map((name) => {
  const xs = lm.GENRES.map((g) => gap.find((r) => r.method === name && r.genre === g)!.gap_closed);
  return [name, ...xs.map(r3), r3(mean(xs))];
})));
display(plot.scatter(summary.filter((s) => s.model !== "base"), { x: "held_in_bpb", y: "held_out_bpb", color: "model",
  title: "Held-in vs held-out bits per byte (mean over genres)", xlabel: "held-in bits/byte", ylabel: "held-out bits/byte" }));"""),
    md("""### How much of each task vector to keep

TIES keeps the fraction k of each task vector with the largest magnitudes; DARE-TIES keeps a random fraction 1 − p and
rescales it by 1/(1 − p). Mean held-out bits per byte over the genres (perplexity only), against the average."""),
    code("""const sweep: Array<{ method: string; kept: number; held_out_bpb: number }> = [];
const heldOutBpb = async (model: unknown) => mean(await Promise.all(lm.GENRES.map(async (g) => col((await mx`perplexity(${model}, ${zoo.data[g].heldOut})`) as Table, "bits_per_byte"))));
for (const kept of [0.1, 0.3, 0.6, 0.9]) {
  sweep.push({ method: "ties", kept, held_out_bpb: await heldOutBpb(await mx`ties(${all}, base=${base}, k=${kept})`) });
  sweep.push({ method: "dare_ties", kept, held_out_bpb: await heldOutBpb(await mx`dare_ties(${all}, base=${base}, p=${1 - kept}, seed=7)`) });
}
display(plot.line(sweep, { x: "kept", y: "held_out_bpb", color: "method", ref: { average: s0("average"), base: s0("base") },
  title: "Held-out bits per byte vs fraction of each task vector kept (dashed: average, base)", xlabel: "fraction kept (k, or 1 − p)", ylabel: "bits per byte" }));"""),
    md("### Greedy continuations, for eyeballing"),
    code("""const prompt = "Permission is hereby granted";
display(new Table(["model", "continuation"], await Promise.all(["base", "expert-licenses", "expert-readmes", "average", "ties"].map(async (name) => {
  const t = (await mx`generate(${models[name]}, ${prompt}, max_tokens=40)`) as Table;
  return [name, JSON.stringify(prompt + t.rows[0][t.columns.indexOf("completion")])];
}))));"""),
    md("### What the numbers say"),
    code("""const best = (key: "held_out_bpb" | "acc", dir: 1 | -1) => Object.keys(merges).reduce((a, b) => {
  const va = summary.find((s) => s.model === a)![key], vb = summary.find((s) => s.model === b)![key];
  return dir * vb > dir * va ? b : a;
});
const s = (name: string) => summary.find((x) => x.model === name)!;
const ownExpert = mean(lm.GENRES.map((g) => rows.find((r) => r.model === `expert-${g}` && r.genre === g)!.held_out_bpb));
console.log(`base: held-out ${s("base").held_out_bpb.toFixed(3)} bits/byte; each genre's own expert: ${ownExpert.toFixed(3)}`);
console.log(`best merge on held-out bits/byte: ${best("held_out_bpb", -1)} (${s(best("held_out_bpb", -1)).held_out_bpb.toFixed(3)})`);
console.log(`best merge on multiple choice: ${best("acc", 1)} (${s(best("acc", 1)).acc.toFixed(3)})`);
for (const name of Object.keys(merges)) console.log(`${name}: ${s(name).held_out_bpb < s("base").held_out_bpb ? "better" : "worse"} than the base on held-out text`);"""),
    md((root / "experiments" / "language-models-discussion.md").read_text()),
]

out = write_notebook(cells, root / "notebooks" / "language-models.ipynb", "tslab")
print("wrote", out.relative_to(root))
