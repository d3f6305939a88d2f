/**
 * Fuzz: seeded random token streams and random mutations of valid scripts.
 * Parsing and checking must only ever produce diagnostics (MergelabErrors
 * with a location) — no other exception — and every case must finish fast.
 */
import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { parse, Session } from "../../dsl/index.js";
import { makeWorkspace } from "./workspace.js";
import { rng } from "../helpers.js";


const VOCAB = [
  "x", "xs", "base", "experts", "k", "λ", "ties", "load", "sum", "mean", "print", "layers", "match", "save", "len", "range", "f",
  "def", "for", "in", "if", "else", "and", "or", "not", "true", "false", "none",
  "0", "1", "0.2", "1e-3", "-", "+", "*", "/", "=", "==", "!=", "<", ">=", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";",
  "\n", "\n", " ", "  ", '"models/base"', "'a\\n'", '"', "'", "#c\n", "@", "\\", "\t", "ü", "‘", "\r\n",
];

const SEEDS = [
  `base = load("models/base")
experts = load_all("models/experts/*")
tv = experts - base
m1 = base + 0.3 * sum(tv)
m2 = ties(experts, base=base, k=0.2, λ=1)
m4 = slerp(experts[0], experts[1], t=layers([0, 0.5, 1]))
m5 = ties(experts, base=base, k=match({"self_attn": 0.3, "mlp": 0.1}, default=0.2))
save(m2, "out/ties", dtype="bf16")
print("k =", 0.2)
m2`,
  `def my_merge(xs, base, k=0.5) = base + k * sum(xs - base)
base = load("models/base")
experts = load_all("models/experts/*")
ms = [my_merge(experts, base, k) for k in [0.1, 0.2, 0.5] if k > 0.1]
for k in [0.1, 0.2] {
  m = ties(experts, base=base, k=k)
  if k > 0.15 { save(m, "out/k") } else { print(k) }
}
rs = table([{k: k, n: len(experts)} for k in [1, 2]])
print(rs[0].k, rs["n"], records(rs)[1:], mean([1, 2]))`,
  `def f(x) {
  y = x * 2
  y + 1
}
r = {a: f(1), b: [1, 2][-1], c: "s"[0]}
print(r.a, r.b, r.c, not true or false and 1 < 2)`,
];

function randomTokens(r: () => number): string {
  const n = 1 + Math.floor(r() * 40);
  let s = "";
  for (let i = 0; i < n; i++) s += VOCAB[Math.floor(r() * VOCAB.length)] + (r() < 0.6 ? " " : "");
  return s;
}

function mutate(text: string, r: () => number): string {
  let s = text;
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const len = 1 + Math.floor(r() * 6);
    const choice = r();
    if (choice < 0.3) s = s.slice(0, at) + s.slice(at + len); // delete
    else if (choice < 0.6) s = s.slice(0, at) + VOCAB[Math.floor(r() * VOCAB.length)] + s.slice(at); // insert a token
    else if (choice < 0.8) {
      const from = Math.floor(r() * s.length);
      s = s.slice(0, at) + s.slice(from, from + len) + s.slice(at); // duplicate a piece
    } else {
      const lines = s.split("\n"); // swap two lines
      const i = Math.floor(r() * lines.length);
      const j = Math.floor(r() * lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      s = lines.join("\n");
    }
  }
  return s;
}

const ws = makeWorkspace();
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

function assertDiagnostics(text: string, ds: ReturnType<typeof parse>["diagnostics"]): void {
  for (const d of ds) {
    expect(typeof d.message, text).toBe("string");
    expect(d.loc.line, text).toBeGreaterThanOrEqual(1);
    expect(d.loc.col, text).toBeGreaterThanOrEqual(1);
  }
}

describe("fuzz", () => {
  it("random token streams parse to diagnostics, never exceptions (3000 cases)", () => {
    const r = rng(1234);
    let withErrors = 0;
    let slowest = 0;
    for (let i = 0; i < 3000; i++) {
      const text = randomTokens(r);
      const t0 = performance.now();
      const { diagnostics } = parse(text, "fuzz.merge");
      slowest = Math.max(slowest, performance.now() - t0);
      assertDiagnostics(text, diagnostics);
      if (diagnostics.length > 0) withErrors++;
    }
    expect(withErrors).toBeGreaterThan(2000); // random streams are mostly invalid
    expect(slowest).toBeLessThan(500);
  });

  it("mutated valid scripts check to diagnostics, never exceptions (1500 cases)", async () => {
    const r = rng(99);
    const session = new Session({ cwd: ws });
    for (const seed of SEEDS) expect((await session.check(seed)).diagnostics).toEqual([]);
    let withErrors = 0;
    let slowest = 0;
    for (let i = 0; i < 1500; i++) {
      const text = mutate(SEEDS[i % SEEDS.length]!, r);
      const t0 = performance.now();
      const { diagnostics } = await session.check(text, { file: "fuzz.merge" });
      slowest = Math.max(slowest, performance.now() - t0);
      assertDiagnostics(text, diagnostics);
      if (diagnostics.length > 0) withErrors++;
    }
    expect(withErrors).toBeGreaterThan(300);
    expect(slowest).toBeLessThan(2000);
    expect(fs.existsSync(`${ws}/out`)).toBe(false); // checks write nothing
  });
});
