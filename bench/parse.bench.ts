/**
 * Front-end speed: parse + check + plan of a generated 500-line merge script
 * over the shared fixtures (headers only, nothing read or written). Budget:
 * 50 ms. Reference measured in the same run: JSON.parse of a JSON text of the
 * same size (the floor for "reading" that much text in JavaScript).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, Session, planRoots } from "../dsl/index.js";
import { explainPlan } from "../kernel/engine/plan.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/fixtures");
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
      case 8: out.push(`save(m${i - 8}, "out/m${i}", dtype="bf16")`); break;
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
    return { parse: t1 - t0, check: t2 - t1, plan: t3 - t2, total: t3 - t0, jobs: plan.jobs.length };
  };
  const first = await once();
  const runs = [];
  for (let i = 0; i < 15; i++) runs.push(await once());
  const json = JSON.stringify({ lines: text.split("\n").map((l, i) => ({ i, l, tokens: l.split(" ") })) }).slice(0, text.length);
  const jsonText = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ line: i, text: text.split("\n")[i] ?? "" })));
  const refs = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    JSON.parse(jsonText);
    refs.push(performance.now() - t0);
  }
  void json;
  const m = (key: "parse" | "check" | "plan" | "total") => median(runs.map((r) => r[key]));
  const ref = median(refs);
  console.log(`script: 500 lines, ${text.length} chars; plan: ${first.jobs} tensor jobs`);
  console.log(`first run (headers read, cold JIT): ${first.total.toFixed(1)} ms`);
  console.log(`median of 15: parse ${m("parse").toFixed(1)} ms + check ${m("check").toFixed(1)} ms + plan ${m("plan").toFixed(1)} ms = ${m("total").toFixed(1)} ms`);
  console.log(`budget ${BUDGET_MS} ms: ratio ${(m("total") / BUDGET_MS).toFixed(2)} (${m("total") <= BUDGET_MS ? "within" : "OVER"} budget)`);
  console.log(`reference: JSON.parse of ${jsonText.length} chars ${ref.toFixed(2)} ms; parse+check+plan = ${(m("total") / ref).toFixed(0)}× that`);
}
