/**
 * Issue #17, fuzzing through the public API (in-process, to keep CI cheap):
 *  - 5,000 generated and mutated scripts through `check` (hostile shapes:
 *    deep nesting, long chains, rest parameters by keyword, typos in list
 *    arguments, huge loops, string blowups), and a sample of 60 through `run`
 *    on tiny models;
 *  - 1,200 mutated safetensors headers through the loader.
 * Every case ends as diagnostics / a MergelabError (never another exception)
 * within a bounded time.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { check, run, openCheckpoint, MergelabError } from "../../index.js";
import { rng } from "../helpers.js";
import { smallModel, workspace, writeF32 } from "./util.js";

const ws = workspace("mergelab-hostile-fuzz-");
fs.cpSync(path.join(ws, "models/b"), path.join(ws, "models/experts/x1"), { recursive: true });
fs.cpSync(path.join(ws, "models/a"), path.join(ws, "models/experts/x2"), { recursive: true });
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

const SEEDS = [
  `base = load("models/a")
experts = load_all("models/experts/*")
tv = experts - base
m1 = base + 0.3 * sum(tv)
m2 = ties(experts, base=base, k=0.2, λ=1)
m3 = dare_ties(experts, base=base, p=0.5, λ=1, seed=7)
m4 = slerp(experts[0], experts[1], t=layers([0, 0.5, 1]))
m5 = linear(experts, weights=[0.3, 0.7])
save(m2, "out/ties", overwrite=true)
print("k =", 0.2, max([1, 2]), min(3, 4))
m2`,
  `def my_merge(xs, base, k=0.5) = base + k * sum(xs - base)
base = load("models/a")
experts = load_all("models/experts/*")
ms = [my_merge(experts, base, k) for k in [0.1, 0.2, 0.5] if k > 0.1]
for k in [0.1, 0.2] {
  m = ties(experts, base=base, k=k)
  if k > 0.15 { save(m, "out/k", overwrite=true) } else { print(k) }
}
print(len(ms), "done")`,
  `def f(x) {
  y = x * 2
  y + 1
}
s = "ab"
for i in range(3) { s = s + s }
r = {a: f(1), b: [1, 2][-1], c: s[0]}
print(r.a, r.b, r.c, not true or false and 1 < 2, [[1], [2]] == [[1], [2]])`,
];

const VOCAB = [
  "x", "xs", "base", "experts", "k", "λ", "ties", "load", "sum", "max", "min", "print", "explain", "linear", "range", "f", "nope",
  "def", "for", "in", "if", "else", "and", "or", "not", "true", "false", "none", "1e400", "-1e400", "0", "1", "0.2", "1e6",
  "-", "+", "*", "/", "=", "==", "(", ")", "[", "]", "{", "}", ",", ":", ".", "\n", " ", '"models/a"', "xs=", "values=", "\u001b[31m",
];

/** Scripts of the shapes the hostile probe found crashes and hangs with. */
/** Cases that run into the dry run's step budget or the memory limit cost a second or more each: kept rare. */
const HEAVY = new Set([6, 7, 9]);

function hostile(r: () => number): string {
  const n = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo));
  let kind = n(0, 14);
  if (HEAVY.has(kind) && r() > 0.04) kind = 13;
  switch (kind) {
    case 0: return `x = ${"(".repeat(n(1, 3000))}1${")".repeat(n(0, 3000))}`;
    case 1: return `x = ${Array(n(2, 6000)).fill(r() < 0.5 ? "1" : "x").join(r() < 0.5 ? "+" : "*")}`;
    case 2: { const d = n(1, 8000); return `a = ${"[".repeat(d)}${"]".repeat(d)}\nb = a == a\nprint(a)`; }
    case 3: return `s = "ab"\nfor i in range(${n(20, 60)}) { s = s + s }`;
    case 4: return `x = ${["max", "min", "print", "sum", "warn"][n(0, 5)]}(${["xs", "values", "x", "models"][n(0, 4)]}=${["1", "[1]", "[]", '"s"'][n(0, 4)]})`;
    case 5: return `a = load("models/a")\n${["explain", "sum", "linear", "ties", "load", "len", "print"][n(0, 7)]}([${["a", "nope", "[nope]", "a, nope"][n(0, 4)]}])`;
    case 6: return `for a in range(${["1e6", "1e9", "100000"][n(0, 3)]}) { for b in range(${["1e6", "1e3", "100000"][n(0, 3)]}) { x = a + b } }`;
    case 7: return `def f(n) {\n  r = n\n  if n >= 2 { r = f(n - 1) + f(n - 2) }\n  r\n}\nx = f(${n(20, 80)})`;
    case 8: return `x = []\nfor i in range(${n(100, 30000)}) { x = [x] }\ny = x == x`;
    case 9: return `xs = [range(${["1000000", "1e7", "1e12", "-1"][n(0, 4)]}) for i in range(${n(1, 3000)})]`;
    case 10: return `a = load("models/a")\nb = load("models/b")\nm = ${["task_arithmetic([b], base=a, λ=1e400)", "linear([a, b], weights=[1e400, 1])", "a * 1e400", "a / 0", "slerp(a, b, t=-1e400)"][n(0, 5)]}`;
    case 11: return `def g(x) = g(x)\ny = g(1)`;
    case 12: return `x = "${"\\u001b".repeat(n(0, 5))}"\ny = ${"{a: ".repeat(n(1, 3000))}1${"}".repeat(n(0, 3000))}`;
    default: return `x = ${"-".repeat(n(1, 5000))}1\ny = ${"not ".repeat(n(1, 5000))}true`;
  }
}

function tokens(r: () => number): string {
  let s = "";
  for (let i = 0, n = 1 + Math.floor(r() * 40); i < n; i++) s += VOCAB[Math.floor(r() * VOCAB.length)] + (r() < 0.6 ? " " : "");
  return s;
}

function mutate(text: string, r: () => number): string {
  let s = text;
  for (let e = 0, edits = 1 + Math.floor(r() * 4); e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const len = 1 + Math.floor(r() * 6);
    const c = r();
    if (c < 0.3) s = s.slice(0, at) + s.slice(at + len);
    else if (c < 0.6) s = s.slice(0, at) + VOCAB[Math.floor(r() * VOCAB.length)] + s.slice(at);
    else if (c < 0.8) {
      const from = Math.floor(r() * s.length);
      s = s.slice(0, at) + s.slice(from, from + len) + s.slice(at);
    } else {
      const lines = s.split("\n");
      const i = Math.floor(r() * lines.length);
      const j = Math.floor(r() * lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      s = lines.join("\n");
    }
  }
  return s;
}

function script(i: number, r: () => number): string {
  const kind = i % 4;
  if (kind === 0) return hostile(r);
  if (kind === 1) return tokens(r);
  if (kind === 2) return mutate(SEEDS[i % SEEDS.length]!, r);
  return mutate(hostile(r), r);
}

const CASE_BUDGET_MS = 10_000;

describe("fuzz: scripts", () => {
  it("5,000 generated and mutated scripts check to diagnostics, in bounded time, never an exception", async () => {
    for (const s of SEEDS) expect(await check(s, { cwd: ws, file: "seed.merge" })).toEqual([]);
    const r = rng(2026);
    let slowest = 0;
    let withErrors = 0;
    for (let i = 0; i < 5000; i++) {
      const text = script(i, r);
      const t0 = performance.now();
      let ds;
      try {
        ds = await check(text, { cwd: ws, file: "fuzz.merge" });
      } catch (e) {
        throw new Error(`case ${i} threw ${(e as Error)?.stack ?? e}\n--- script\n${text.slice(0, 500)}`);
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      expect(ms, `case ${i} took ${ms} ms\n${text.slice(0, 300)}`).toBeLessThan(CASE_BUDGET_MS);
      for (const d of ds) {
        expect(d.loc.line, text.slice(0, 300)).toBeGreaterThanOrEqual(1);
        expect(d.message, text.slice(0, 300)).not.toMatch(/Maximum call stack|Invalid string length|\w\.\w+ is not a function|Cannot read prop|\(reading '/);
      }
      if (ds.length) withErrors++;
    }
    expect(withErrors).toBeGreaterThan(1000);
    expect(fs.existsSync(path.join(ws, "out"))).toBe(false); // checks write nothing
  }, 600_000);

  it("a sample of 60 mutated scripts runs on tiny models: results or ScriptErrors, nothing else", async () => {
    const r = rng(7);
    let ran = 0;
    for (let i = 0; i < 60; i++) {
      // hostile shapes, seeds with other parameter values (most run), and mutated seeds (most fail)
      const values = ["0.1", "0.5", "1", "0", "-1", "1e400", "2", "0.75"];
      const text = i % 3 === 0 ? hostile(r) : i % 3 === 1 ? SEEDS[i % 2]!.replace(/0\.2|0\.5/g, () => values[Math.floor(r() * values.length)]!) : mutate(SEEDS[i % 2]!, r);
      const t0 = performance.now();
      try {
        await run(text, { cwd: ws, file: "fuzz.merge", options: { workers: 0, quiet: true }, stdout: () => {}, stderr: () => {} });
        ran++;
      } catch (e) {
        if (!(e instanceof MergelabError)) throw new Error(`case ${i} threw ${(e as Error)?.stack ?? e}\n--- script\n${text.slice(0, 500)}`);
      }
      expect(performance.now() - t0, text.slice(0, 300)).toBeLessThan(30_000);
    }
    expect(ran).toBeGreaterThan(3);
  }, 600_000);
});

describe("fuzz: safetensors headers", () => {
  it("1,200 mutated headers load or fail with a MergelabError naming the file, in bounded time", () => {
    const r = rng(31337);
    const dir = path.join(ws, "st");
    fs.mkdirSync(dir, { recursive: true });
    const good = path.join(dir, "good.safetensors");
    writeF32(good, smallModel(3), { note: "x" });
    const bytes = fs.readFileSync(good);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, 8 + n).toString("utf8");
    const data = bytes.subarray(8 + n);
    const pieces = ['"__proto__"', '"."', "null", "[]", "{}", "-1", "1e400", "9007199254740993", '"F32"', '"BF16"', '"I64"', '"dtype"', '"shape"', '"data_offsets"', "[0, 64]", "[64, 0]", "[1e20, 1e21]", '"\u001b[2J"', "\\u0000", '"', ",", ":", "{", "}", "[", "]"];
    let loaded = 0;
    for (let i = 0; i < 1200; i++) {
      let h = header;
      for (let e = 0, edits = 1 + Math.floor(r() * 3); e < edits; e++) {
        const at = Math.floor(r() * (h.length + 1));
        const c = r();
        if (c < 0.35) h = h.slice(0, at) + h.slice(at + 1 + Math.floor(r() * 8));
        else if (c < 0.75) h = h.slice(0, at) + pieces[Math.floor(r() * pieces.length)] + h.slice(at);
        else if (c < 0.9) h = h.replace(/\d+/g, (d) => (r() < 0.2 ? String(Number(d) + Math.floor(r() * 9) - 4) : d));
        else h = h.slice(0, at) + String.fromCharCode(Math.floor(r() * 0x500)) + h.slice(at + 1);
      }
      const hb = Buffer.from(h);
      const len = Buffer.alloc(8);
      const lenMode = r();
      len.writeBigUInt64LE(BigInt(lenMode < 0.9 ? hb.length : lenMode < 0.95 ? hb.length + Math.floor(r() * 64) : Math.floor(r() * 2 ** 40)));
      const file = path.join(dir, `case-${i}.safetensors`);
      const tail = r() < 0.1 ? data.subarray(0, Math.floor(r() * data.length)) : data;
      fs.writeFileSync(file, Buffer.concat([len, hb, tail]));
      const t0 = performance.now();
      try {
        const c = openCheckpoint(file);
        for (const t of c.tensors) c.readF32(t.name, 0, t.numel);
        c.close();
        loaded++;
      } catch (e) {
        if (!(e instanceof MergelabError)) throw new Error(`case ${i} threw ${(e as Error)?.stack ?? e}\n--- header\n${h}`);
        expect(e.message).toContain(file);
      }
      expect(performance.now() - t0).toBeLessThan(2000);
      fs.rmSync(file);
    }
    expect(loaded).toBeGreaterThan(10);
    expect(loaded).toBeLessThan(1200);
  }, 300_000);
});
