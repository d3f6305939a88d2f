"""Writes notebooks/analysis.ipynb (cells only; execute it with the MergeLab kernel).

    /usr/bin/python3 experiments/make_analysis_notebook.py
    JUPYTER_PATH=... /usr/bin/python3 tests/kernel/execute_notebook.py notebooks/analysis.ipynb --out notebooks/analysis.ipynb
"""
import pathlib

import nbformat

from notebook_files import write_notebook

root = pathlib.Path(__file__).resolve().parent.parent
md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

cells = [
    md("""# Analysing a merge: task-vector geometry, a density sweep over seeds, results saved

The analysis toolbox of the merge language on a real merge: the quickstart's base MLP and four experts, each
fine-tuned on a cluster of MNIST / Fashion-MNIST tasks (trained on first use, cached under `.cache/`).

* **Where do the experts' task vectors `d_i = x_i − base` live, and where do they fight?** Norms, pairwise cosines
  and sign-conflict rates per layer (`by="layer"`, or `by="module"`).
* **How much of each task vector can DARE drop?** A density sweep, each point the mean over three seeds with its
  standard deviation as an error bar, against the base and plain averaging as reference lines.
* **Results out:** `save_table` writes CSV / JSON for a plotting script or a paper; `load_table` reads them back."""),
    code("""z = zoo(32, profile="quick")
base = z.base
experts = [z.experts[c] for c in [0, 1, 2, 3]]
held_in = tasks([0, 1, 2, 3])
ref = expert_reference(z.experts)
def score(m) = normalized(evaluate(m, held_in), ref)
len(experts)"""),
    md("""## Task-vector geometry, layer by layer

`layer_norms` gives ‖d_i‖₂ per layer; `cosine_matrix(…, by="layer")` and `sign_conflicts(…, by="layer")` give one row
per pair of experts and layer (`pair`, `a`, `b`, `layer`, and the statistic)."""),
    code("""norms = layer_norms(experts, base)
plot(norms, x="layer", y="norm", color="model", title="Task-vector norm per layer")"""),
    code("""cos_by_layer = cosine_matrix(experts, base, by="layer")
plot(cos_by_layer, x="layer", y="cosine", color="pair", ref={"orthogonal": 0}, title="Cosine of the experts' task vectors, per layer")"""),
    code("""conflicts = sign_conflicts(experts, base, by="layer")
plot(conflicts, x="layer", y="pair", z="conflict", kind="heatmap", title="Sign-conflict rate per layer (what TIES elects away)")"""),
    md("""Over whole models the cosines are small; the heatmap's colour scale comes from the pairs, not from the trivial
diagonal (cos(d, d) = 1), which would otherwise wash every pair out to one colour."""),
    code("""plot(cosine_matrix(experts, base), kind="heatmap", title="Cosine of whole task vectors")"""),
    code("""# one pair as a number (task vectors with base=, the models' own weights without)
[round(cosine(experts[0], experts[2], base=base), 4), round(cosine(experts[0], experts[2]), 4)]"""),
    md("""Analysis results are ordinary tables: take them apart with `records`, compute, and rebuild. (`mergelab check`
accepts this even though it cannot know an analysis' rows before reading the checkpoints.)"""),
    code("""per_layer = table([{layer: r.layer, model: r.model, log10_norm: log(r.norm) / log(10)} for r in records(norms)])
plot(per_layer, x="layer", y="log10_norm", color="model", kind="bar", title="log₁₀ ‖d‖ per layer")"""),
    md("""## A density sweep with error bars over seeds

DARE keeps a random fraction `density` = 1 − p of each task vector (rescaled by 1/(1 − p)) before TIES' sign election;
which entries survive depends on the seed. Each point is the mean over three seeds, the error bar their standard
deviation (`err="std"`; also `"sem"` and `"ci95"`). Reference lines: the base and the plain average of the experts."""),
    code("""densities = [0.05, 0.1, 0.2, 0.4, 0.7, 1.0]
seeds = [1, 2, 3]
sweep = table([{density: d, seed: s, score: score(dare_ties(experts, base=base, p=1 - d, seed=s))} for d in densities for s in seeds])
base_score = score(base)
average_score = score(average(experts))
plot(sweep, x="density", y="score", err="std", logx=true, ref={"base": base_score, "average": average_score},
     title="DARE-TIES: normalized held-in accuracy, mean ± std over 3 seeds")"""),
    code("""spread = [std([r.score for r in records(sweep)][3 * i : 3 * i + 3]) for i in range(len(densities))]
print("std over seeds per density:", [round(s, 4) for s in spread])
print("largest:", round(max(spread), 4), " smallest:", round(min(spread), 4))"""),
    md("""The same sweep as a 95% confidence band (`band=true`), and the held-out tasks' accuracies of two merges as
histograms on **shared bins** (both groups are binned on the same edges, so bars compare one to one)."""),
    code("""plot(sweep, x="density", y="score", err="ci95", band=true, logx=true, title="DARE-TIES: mean and 95% confidence band")"""),
    code("""held_out = tasks("held_out")
acc_avg = evaluate(average(experts), held_out)
acc_ties = evaluate(ties(experts, base=base, k=0.2), held_out)
accs = table(concat([{method: "average", accuracy: acc_avg[t]} for t in keys(acc_avg)],
                    [{method: "ties", accuracy: acc_ties[t]} for t in keys(acc_ties)]))
plot(accs, x="accuracy", color="method", kind="histogram", bins=8, title="Held-out accuracy per task")"""),
    md("""## Results out, and back in

`save_table` writes a table (or a list of records) as CSV (RFC 4180, numbers that read back exactly) or JSON (an
array of records); paths are relative to this notebook's folder."""),
    code("""save_table(sweep, "results/analysis-density-sweep.csv")
save_table(cos_by_layer, "results/analysis-cosine-by-layer.json")
back = load_table("results/analysis-density-sweep.csv")
print(len(back), "rows, columns", keys(back))
back"""),
]

out = write_notebook(cells, root / "notebooks" / "analysis.ipynb", "mergelab")
print("wrote", out.relative_to(root))
