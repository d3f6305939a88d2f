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
const fixtures = path.join(root, "tests/fixtures");

/**
 * The code users run is dist/ (tsc output); under tsx every arrow function of
 * the grammar is wrapped by esbuild's keepNames helper, which adds overhead
 * that does not ship. Use dist/ when it is at least as new as the sources.
 */
async function frontEnd(): Promise<{ api: typeof import("../dsl/index.js"); plan: typeof import("../engine/plan.js"); from: string }> {
  const built = path.join(root, "dist/dsl/index.js");
  const newest = Math.max(...fs.readdirSync(path.join(root, "dsl")).map((f) => fs.statSync(path.join(root, "dsl", f)).mtimeMs));
  if (fs.existsSync(built) && fs.statSync(path.join(root, "dist/dsl/parse.js")).mtimeMs >= newest) {
    return { api: await import(pathToFileURL(built).href), plan: await import(pathToFileURL(path.join(root, "dist/engine/plan.js")).href), from: "dist/ (tsc output)" };
  }
  return { api: await import("../dsl/index.js"), plan: await import("../engine/plan.js"), from: "sources via tsx (run `npm run build` to measure dist/)" };
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

/** CPU milliseconds of this process (user + system): on a shared, overloaded machine wall time mostly measures waiting for a core. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Timing {
  wall: number;
  cpu: number;
}
function time<T>(f: () => T): [T, Timing] {
  const w = performance.now();
  const c = cpuMs();
  const r = f();
  return [r, { wall: performance.now() - w, cpu: cpuMs() - c }];
}
async function timeAsync<T>(f: () => Promise<T>): Promise<[T, Timing]> {
  const w = performance.now();
  const c = cpuMs();
  const r = await f();
  return [r, { wall: performance.now() - w, cpu: cpuMs() - c }];
}

export default async function main(): Promise<void> {
  const { api, plan: planMod, from } = await frontEnd();
  const { parse, Session, planRoots } = api;
  const explainPlan = planMod.explainPlan;
  const text = generateScript(500);
  const session = new Session({ cwd: process.cwd(), stdout: () => {} });
  const once = async () => {
    const [parsed, p] = time(() => parse(text, "bench.merge"));
    const [checked, c] = await timeAsync(() => session.check(text, { file: "bench.merge" }));
    const [plan, pl] = time(() => explainPlan(planRoots(checked.saved.map((s) => s.model), checked.value)));
    if (parsed.diagnostics.length + checked.diagnostics.length > 0) throw new Error(`bench script has errors: ${checked.diagnostics[0]?.message}`);
    // check parses again: parse is timed alone, then check (parse + interpretation) and plan
    return { parse: p, check: c, plan: pl, total: { wall: c.wall + pl.wall, cpu: c.cpu + pl.cpu }, jobs: plan.jobs.length };
  };
  const first = await once();
  for (let i = 0; i < 10; i++) await once(); // JIT warm-up
  const runs: Array<Awaited<ReturnType<typeof once>>> = [];
  for (let i = 0; i < 21; i++) runs.push(await once());
  const jsonText = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ line: i, text: text.split("\n")[i] ?? "" })));
  const refs: Timing[] = [];
  for (let i = 0; i < 200; i++) refs.push(time(() => JSON.parse(jsonText))[1]);
  type Key = "parse" | "check" | "plan" | "total";
  const m = (key: Key, k: keyof Timing) => median(runs.map((r) => r[key][k]));
  const ref = { wall: median(refs.map((r) => r.wall)), cpu: median(refs.map((r) => r.cpu)) };
  const line = (k: keyof Timing) =>
    `check ${m("check", k).toFixed(1)} ms (parsing alone ${m("parse", k).toFixed(1)} ms) + plan ${m("plan", k).toFixed(1)} ms = ${m("total", k).toFixed(1)} ms`;
  console.log(`measuring ${from}; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
  console.log(`script: 500 lines, ${text.length} chars; plan: ${first.jobs} tensor jobs; first run (headers read, cold JIT) ${first.total.wall.toFixed(1)} ms wall`);
  console.log(`median of 21, CPU time:  ${line("cpu")}`);
  console.log(`median of 21, wall time: ${line("wall")}`);
  const cpu = m("total", "cpu");
  console.log(`budget ${BUDGET_MS} ms: CPU-time ratio ${(cpu / BUDGET_MS).toFixed(2)} (${cpu <= BUDGET_MS ? "within" : "OVER"} budget); wall-time ratio ${(m("total", "wall") / BUDGET_MS).toFixed(2)}`);
  console.log(`reference: JSON.parse of ${jsonText.length} chars: ${ref.cpu.toFixed(3)} ms CPU, ${ref.wall.toFixed(3)} ms wall; parse+check+plan = ${(cpu / Math.max(ref.cpu, 1e-3)).toFixed(0)}× that (CPU)`);
}
