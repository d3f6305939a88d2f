/**
 * Front-end speed: parse + check + plan of a generated 500-line merge script
 * over the shared fixtures (headers only, nothing read or written). Budget:
 * 50 ms. Reference measured in the same run: JSON.parse of a JSON text of the
 * same size (the floor for "reading" that much text in JavaScript).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = path.resolve(root, "../shared/fixtures");

/**
 * The code users run is dist/ (tsc output); under tsx every arrow function of
 * the grammar is wrapped by esbuild's keepNames helper, which adds overhead
 * that does not ship. Use dist/ when it is at least as new as the sources.
 */
async function frontEnd(): Promise<{ api: typeof import("../dsl/index.js"); plan: typeof import("../kernel/engine/plan.js"); from: string }> {
  const built = path.join(root, "dist/dsl/index.js");
  const newest = Math.max(...fs.readdirSync(path.join(root, "dsl")).map((f) => fs.statSync(path.join(root, "dsl", f)).mtimeMs));
  if (fs.existsSync(built) && fs.statSync(path.join(root, "dist/dsl/parse.js")).mtimeMs >= newest) {
    return { api: await import(pathToFileURL(built).href), plan: await import(pathToFileURL(path.join(root, "dist/kernel/engine/plan.js")).href), from: "dist/ (tsc output)" };
  }
  return { api: await import("../dsl/index.js"), plan: await import("../kernel/engine/plan.js"), from: "sources via tsx (run `npm run build` to measure dist/)" };
}
const BUDGET_MS = 50;

/** A sweep-style experiment: loads, task vectors, methods with schedules, user functions, comprehensions, saves. */
export function generateScript(lines: number): string {
  const out = [
    `base = load("${fixtures}/tiny-llama-f16")`,
    `a = load("${fixtures}/tiny-llama-bf16-sharded")`,
    `b = load("${fixtures}/tiny-llama-f32.safetensors")`,
    "experts = [a, b]",
    "tv = experts - base",
    "def my_merge(xs, base, k=0.5) = base + k * sum(xs - base)",
  ];
  for (let i = 0; out.length < lines; i++) {
    const k = ((i % 9) + 1) / 10;
    switch (i % 10) {
      case 0: out.push(`m${i} = ties(experts, base=base, k=${k}, λ=1)  # trim ${k}`); break;
      case 1: out.push(`m${i} = base + ${k} * sum(tv)`); break;
      case 2: out.push(`m${i} = dare_ties(experts, base=base, p=${k}, seed=${i})`); break;
      case 3: out.push(`m${i} = slerp(a, b, t=layers([0, ${k}, 1]))`); break;
      case 4: out.push(`m${i} = ties(experts, base=base, k=match({"self_attn": ${k}, "mlp": 0.1}, default=0.2))`); break;
      case 5: out.push(`m${i} = my_merge(experts, base, k=${k})`); break;
      case 6: out.push(`ks${i} = [x / 10 for x in range(1, 10) if x != ${i % 9}]`); break;
      case 7: out.push(`r${i} = {k: ${k}, name: "run ${i}", n: len(experts)}`); break;
      case 8: out.push(i % 50 === 8 ? `save(m${i - 8}, "out/m${i}", dtype="bf16")` : `n${i} = len(ks${i - 2}) + ${i}`); break;
      default: out.push(`x${i} = (${i} + 1) * 2 - ${k} / 3`); break;
    }
  }
  return out.join("\n") + "\n";
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

export default async function main(): Promise<void> {
  const { api, plan: planMod, from } = await frontEnd();
  const { parse, Session, planRoots } = api;
  const explainPlan = planMod.explainPlan;
  const text = generateScript(500);
  const session = new Session({ cwd: process.cwd(), stdout: () => {} });
  const once = async () => {
    const t0 = performance.now();
    const { diagnostics } = parse(text, "bench.merge");
    const t1 = performance.now();
    const checked = await session.check(text, { file: "bench.merge" });
    const t2 = performance.now();
    const plan = explainPlan(planRoots(checked.saved.map((s) => s.model), checked.value));
    const t3 = performance.now();
    if (diagnostics.length + checked.diagnostics.length > 0) throw new Error(`bench script has errors: ${checked.diagnostics[0]?.message}`);
    // check parses again: parse is timed alone, then check (parse + interpretation) and plan
    return { parse: t1 - t0, check: t2 - t1, plan: t3 - t2, total: t3 - t1, jobs: plan.jobs.length };
  };
  const first = await once();
  const runs: Array<Awaited<ReturnType<typeof once>>> = [];
  for (let i = 0; i < 15; i++) runs.push(await once());
  const jsonText = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ line: i, text: text.split("\n")[i] ?? "" })));
  const refs = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    JSON.parse(jsonText);
    refs.push(performance.now() - t0);
  }
  const m = (key: "parse" | "check" | "plan" | "total") => median(runs.map((r) => r[key]));
  const ref = median(refs);
  console.log(`measuring ${from}; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
  console.log(`script: 500 lines, ${text.length} chars; plan: ${first.jobs} tensor jobs`);
  console.log(`first run (headers read, cold JIT): ${first.total.toFixed(1)} ms`);
  console.log(`median of 15: check ${m("check").toFixed(1)} ms (of which parsing ≈ ${m("parse").toFixed(1)} ms) + plan ${m("plan").toFixed(1)} ms = ${m("total").toFixed(1)} ms`);
  console.log(`budget ${BUDGET_MS} ms: ratio ${(m("total") / BUDGET_MS).toFixed(2)} (${m("total") <= BUDGET_MS ? "within" : "OVER"} budget)`);
  console.log(`reference: JSON.parse of ${jsonText.length} chars ${ref.toFixed(2)} ms; parse+check+plan = ${(m("total") / ref).toFixed(0)}× that`);
}
