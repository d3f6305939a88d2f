/**
 * `mergelab demo [DIR]`: the first thing to run. A small merge experiment end
 * to end, on built-in data: tiny experts (an MLP fine-tuned per task cluster
 * on MNIST digits + Fashion-MNIST clothing, stdlib/eval) merged with average,
 * task arithmetic, TIES and DARE-TIES — all in the merge language — scored on
 * held-in and held-out tasks, printed as a table and written as an HTML report
 * with plots (plotly.js inlined: it opens offline) to DIR (./mergelab-demo).
 * Trained checkpoints are cached in DIR/.cache, so a second run is quick.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import { parseSimpleArgs } from "../args.js";
import { Table, type Value } from "../../core/values.js";
import { Figure } from "../../stdlib/plot.js";
import { interactiveFigureHtml, plotlyLoaderHtml } from "../../core/plotly.js";
import { Session, ScriptError } from "../../dsl/index.js";

const USAGE = `usage: mergelab demo [DIR] [--json]

Runs a small merge experiment end to end on built-in data (MNIST + Fashion-MNIST
experts, merged with average / task arithmetic / TIES / DARE-TIES), prints the
results table and writes DIR/report.html (default DIR: ./mergelab-demo).
--json prints the results as JSON on stdout (progress goes to stderr).`;

/** The experiment, in the merge language (written to DIR/demo.mlab: edit it and `mergelab run` it). */
export const DEMO_SCRIPT = `# mergelab demo: merge tiny experts, compare methods on held-in and held-out tasks.
# Models: a 3-layer MLP over 14x14 MNIST / Fashion-MNIST images, an instruction-tuned
# base and one expert per task cluster, fine-tuned from it (stdlib/eval, cached in .cache/).
z = zoo(32, base="instruction_tuned", profile="quick")
clusters = [0, 1, 2, 3]
experts = [z.experts[c] for c in clusters]
held_in = tasks(clusters)                       # the experts' own tasks
held_out = tasks("held_out")                    # tasks none of them was trained on
ref_in = expert_reference(z.experts)            # each held-in task scored by its own expert
ref_out = evaluate(z.base, held_out)            # held-out tasks scored by the base

methods = ["average", "task_arithmetic", "ties", "dare_ties"]
merged = [
  average(experts),
  task_arithmetic(experts, base=z.base, λ=0.4),
  ties(experts, base=z.base, k=0.2, λ=1),
  dare_ties(experts, base=z.base, p=0.5, λ=0.7, seed=1),
]
results = table([{method: methods[i],
                  held_in: normalized(evaluate(merged[i], held_in), ref_in),
                  held_out: normalized(evaluate(merged[i], held_out), ref_out)} for i in range(len(methods))])
references = table([
  {model: "base", held_in: normalized(evaluate(z.base, held_in), ref_in), held_out: 1},
  {model: "multitask", held_in: normalized(evaluate(z.multitask, held_in), ref_in), held_out: normalized(evaluate(z.multitask, held_out), ref_out)},
])
sweep = table([{λ: l, held_in: normalized(evaluate(m, held_in), ref_in), held_out: normalized(evaluate(m, held_out), ref_out)}
               for l in [0.1, 0.25, 0.4, 0.55, 0.7, 1.0] for m in [task_arithmetic(experts, base=z.base, λ=l)]])

methods_plot = plot(results, x="method", y=["held_in", "held_out"], kind="bar",
                    title="Normalized accuracy of each merge (1 = the experts / the base)")
sweep_plot = plot(sweep, x="λ", y=["held_in", "held_out"], kind="line", title="Task arithmetic: scaling λ")

save(merged[2], "models/ties", overwrite=true)   # a merged checkpoint with its model card
`;

interface DemoResult {
  results: Table;
  references: Table;
  sweep: Table;
  figures: Figure[];
}

const fmt = (v: Value) => (typeof v === "number" ? v.toFixed(3) : String(v));

/** A fixed-width text table. */
export function textTable(t: Table): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map(fmt))];
  const widths = t.columns.map((_, j) => Math.max(...cells.map((r) => String(r[j]).length)));
  const line = (r: Value[]) => r.map((c, j) => (j === 0 ? String(c).padEnd(widths[j]) : String(c).padStart(widths[j]))).join("  ");
  return [line(t.columns), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function htmlTable(t: Table): string {
  const head = t.columns.map((c) => `<th>${escape(c)}</th>`).join("");
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td>${escape(fmt(v))}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function reportHtml(r: DemoResult, seconds: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mergelab demo</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; } pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; }
</style>
${plotlyLoaderHtml()}</head><body>
<h1>mergelab demo: merging tiny experts</h1>
<p>Four experts, each an MLP fine-tuned from one instruction-tuned base on a cluster of MNIST / Fashion-MNIST tasks,
merged four ways. <b>held_in</b>: accuracy on the experts' own tasks divided by each expert's accuracy (1 = as good as the
expert). <b>held_out</b>: accuracy on tasks no expert saw, divided by the base's (1 = as good as the base).
Run in ${seconds.toFixed(1)} s.</p>
<h2>Merges</h2>
${htmlTable(r.results)}
<h2>References</h2>
${htmlTable(r.references)}
${r.figures.map((f, i) => interactiveFigureHtml(f.toJSON(), f.toMimeBundle()["text/html"] as string, `mergelab-fig-${i + 1}`)).join("\n")}
<h2>Task arithmetic: λ sweep</h2>
${htmlTable(r.sweep)}
<h2>The experiment</h2>
<p>This is <code>demo.mlab</code> in this folder; change it and run <code>mergelab run demo.mlab</code> here.</p>
<pre>${escape(DEMO_SCRIPT)}</pre>
</body></html>
`;
}

function tableOf(session: Session, name: string): Table {
  const v = session.get(name);
  if (!(v instanceof Table)) throw new MergelabError(`demo: '${name}' is not a table`);
  return v;
}

export async function run(argv: string[]): Promise<number> {
  const { help, json, positional: rest } = parseSimpleArgs(argv, "demo", USAGE);
  if (help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (rest.length > 1) {
    process.stderr.write(USAGE + "\n");
    return 2;
  }
  const dir = path.resolve(rest[0] ?? "mergelab-demo");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "demo.mlab"), DEMO_SCRIPT);
  const log = (t: string) => void process.stderr.write(t);
  log(`mergelab demo: training (or reusing) tiny experts and merging them in ${dir}\n`);
  const t0 = Date.now();
  const session = new Session({ cwd: dir, stdout: log, options: { quiet: false, recipe: { text: DEMO_SCRIPT } } });
  try {
    await session.execute(DEMO_SCRIPT, { file: "demo.mlab" });
  } catch (e) {
    if (e instanceof ScriptError) {
      process.stderr.write(e.rendered + "\n");
      return 1;
    }
    throw e;
  }
  const result: DemoResult = {
    results: tableOf(session, "results"),
    references: tableOf(session, "references"),
    sweep: tableOf(session, "sweep"),
    figures: ["methods_plot", "sweep_plot"].map((n) => session.get(n)).filter((f): f is Figure => f instanceof Figure),
  };
  const seconds = (Date.now() - t0) / 1000;
  const report = path.join(dir, "report.html");
  fs.writeFileSync(report, reportHtml(result, seconds));
  if (json) {
    const rows = (t: Table) => t.rows.map((r) => Object.fromEntries(t.columns.map((c, j) => [c, r[j]])));
    process.stdout.write(JSON.stringify({ results: rows(result.results), references: rows(result.references), sweep: rows(result.sweep), report, seconds }) + "\n");
  } else {
    process.stdout.write(`\n${textTable(result.results)}\n\n${textTable(result.references)}\n\n`);
    process.stdout.write(`held_in: accuracy / the expert's; held_out: accuracy / the base's (1 = as good).\n`);
    process.stdout.write(`report: ${report}   (script: ${path.join(dir, "demo.mlab")}, ${seconds.toFixed(1)} s)\n`);
  }
  return 0;
}
