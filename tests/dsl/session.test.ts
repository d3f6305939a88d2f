/**
 * The Session / TypeScript API: running code with bindings kept across calls,
 * values of every construct, broadcasting over models (checked numerically
 * against the fixtures' expected values), `mx` interpolation, completion,
 * inspection and completeness.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Session, ScriptError, createMx, Closure, formatValue } from "../../dsl/index.js";
import { valueToMimeBundle as displayValue } from "../../core/present.js";
import { Dict, Table } from "../../core/values.js";
import { isModel, modelFromTensors, type ModelValue } from "../../engine/model.js";
import { materializeArrays } from "../../engine/exec/index.js";
import { isSchedule } from "../../engine/param-schedule.js";
import { tf } from "../../core/runtime.js";
import { ioCounters, openCheckpoint } from "../../io/index.js";
import { expected } from "../helpers.js";
import { glob } from "../../stdlib/builtins.js";
import { makeWorkspace } from "./workspace.js";

const ws = makeWorkspace();
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

function session(): { s: Session; out: string[] } {
  const out: string[] = [];
  return { s: new Session({ cwd: ws, stdout: (t) => out.push(t), options: { workers: 0 } }), out };
}

async function value(code: string): Promise<unknown> {
  return (await session().s.execute(code)).value;
}

describe("values of the language", () => {
  it("arithmetic, comparisons, logic", async () => {
    expect(await value("1 + 2 * 3 - 4 / 2")).toBe(5);
    expect(await value("-(2 + 1) * 2")).toBe(-6);
    expect(await value('"a" + "b"')).toBe("ab");
    expect(await value("1 < 2 and not (3 <= 2) or false")).toBe(true);
    expect(await value("[1, 2] == [1, 2]")).toBe(true);
    expect(await value("0 or none")).toBe(undefined);
  });
  it("lists broadcast", async () => {
    expect(await value("[1, 2, 3] * 2 + [10, 20, 30]")).toEqual([12, 24, 36]);
    expect(await value("-[1, 2]")).toEqual([-1, -2]);
  });
  it("indexing, negative indices, slices", async () => {
    expect(await value("[1, 2, 3][-1]")).toBe(3);
    expect(await value("[1, 2, 3, 4, 5][1:4:2]")).toEqual([2, 4]);
    expect(await value("[1, 2, 3][::-1]")).toEqual([3, 2, 1]);
    expect(await value('"hello"[1:3]')).toBe("el");
  });
  it("comprehensions with filters and nesting", async () => {
    expect(await value("[x * y for x in [1, 2, 3] if x != 2 for y in [10, 100]]")).toEqual([10, 100, 30, 300]);
    expect(await value("[k / 10 for k in range(1, 4)]")).toEqual([0.1, 0.2, 0.3]);
  });
  it("records, dicts, fields and tables", async () => {
    const r = (await value("{k: 0.2, acc: 0.9}")) as Dict;
    expect(r).toBeInstanceOf(Dict);
    expect([...r.entries]).toEqual([["k", 0.2], ["acc", 0.9]]);
    expect(await value('{"self_attn": 0.3}["self_attn"]')).toBe(0.3);
    expect(await value("{k: 1, acc: 2}.acc")).toBe(2);
    const t = (await value("table([{k: k, sq: k * k} for k in [1, 2, 3]])")) as Table;
    expect(t).toBeInstanceOf(Table);
    expect(t.columns).toEqual(["k", "sq"]);
    expect(t.rows).toEqual([[1, 1], [2, 4], [3, 9]]);
    expect(await value("table([{k: 1}, {k: 2}]).k")).toEqual([1, 2]);
    expect(await value("[r.k for r in records(table({k: [5, 6]}))]")).toEqual([5, 6]);
  });
  it("for loops and if statements share the enclosing scope", async () => {
    const { s, out } = session();
    await s.execute("total = 0\nfor k in [1, 2, 3] {\n  if k == 2 { total = total + 10 } else { total = total + k }\n}\nprint(total)");
    expect(out.join("")).toBe("14\n");
  });
  it("user functions: expression and block bodies, defaults, keywords, recursion", async () => {
    expect(await value("def f(x, k=2) = x * k\n[f(3), f(3, k=3), f(k=1, x=5)]")).toEqual([6, 9, 5]);
    expect(await value("def g(x) {\n  y = x + 1\n  y * 2\n}\ng(1)")).toBe(4);
    expect(await value("def fact(n) {\n  if n <= 1 { r = 1 } else { r = n * fact(n - 1) }\n  r\n}\nfact(5)")).toBe(120);
    await expect(session().s.execute("def f(x) = f(x)\nf(1)")).rejects.toThrow(/calls itself more than 200 levels deep/);
  });
  it("print formats values", async () => {
    const { s, out } = session();
    await s.execute('print("k =", 0.2, [1, "a"], {k: true}, none, sep=" | ")');
    expect(out.join("")).toBe('k = | 0.2 | [1, "a"] | {k: true} | none\n');
  });
  it("schedules", async () => {
    const l = await value("layers([0, 0.5, 1])");
    expect(isSchedule(l)).toBe(true);
    expect(String(l)).toBe("layers([0, 0.5, 1])");
    expect(String(await value('match({"mlp": 0.1}, default=0.2)'))).toBe('match({"mlp": 0.1}, default=0.2)');
  });
});

describe("models", () => {
  const three = 'a = load("models/experts/a")\nb = load("models/experts/b.safetensors")\nc = load("models/base")\n';

  it("loading reads headers only; lists of models broadcast", async () => {
    const reads = ioCounters.dataReads;
    const { s } = session();
    const r = await s.execute(`${three}tv = [a, b] - c\nlen(tv)`);
    expect(r.value).toBe(2);
    expect((s.get("tv") as unknown[]).every(isModel)).toBe(true);
    expect(ioCounters.dataReads).toBe(reads);
  });

  it("load_all globs relative to cwd with * and **, sorted", async () => {
    expect(glob("models/experts/*", ws).map((p) => path.relative(ws, p))).toEqual(["models/experts/a", "models/experts/b.safetensors"]);
    expect(glob("**/b.safetensors", ws).map((p) => path.relative(ws, p))).toEqual(["models/experts/b.safetensors"]);
    expect(glob("models/*-*.safetensors", ws).map((p) => path.basename(p))).toEqual(["missing-norm.safetensors", "wrong-shape.safetensors"]);
    const { s } = session();
    expect((await s.execute('[len(m) for m in load_all("models/e*/*")]')).value).toEqual([9, 9]);
  });

  it("mean of three models equals the fixtures' average (computed on save)", async () => {
    const { s, out } = session();
    await s.execute(`${three}save(mean([a, b, c]), "out/avg", dtype="f32")`);
    expect(out.join("")).toMatch(/^saved out\/avg: 9 tensors/);
    const ck = openCheckpoint(path.join(ws, "out/avg"));
    expect(ck.tensors.length).toBe(9);
    const m = (await s.execute('load("out/avg")')).value as ModelValue;
    const arrays = await materializeArrays(m, { workers: 0 });
    for (const name of ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight"]) {
      const want = expected["average-of-three"][name].first_raw.map(Number);
      const got = Array.from((arrays[name]!.data as Float32Array).slice(0, 6));
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    }
  });

  it("a user function is usable as a method and explain shows its expansion", async () => {
    const { s } = session();
    const r = await s.execute(`${three}def my_merge(xs, base, k) = base + k * sum(xs - base)\nexplain(my_merge([a, b], c, 0.5))`);
    const text = String(r.value);
    expect(text).toMatch(/sub\(%\d+, %\d+\)/);
    expect(text).toMatch(/mul\(|0\.5/);
    expect(s.get("my_merge")).toBeInstanceOf(Closure);
  });

  it("ties with λ and lambda as one name gives the same plan", async () => {
    const { s } = session();
    await s.execute(`${three}m1 = ties([a, b], base=c, k=0.5, λ=0.7)\nm2 = ties([a, b], base=c, density=0.5, lambda=0.7)`);
    const p1 = (await s.plan("m1")).explainText();
    const p2 = (await s.plan("m2")).explainText();
    expect(p1.split("\n").slice(1)).toEqual(p2.split("\n").slice(1));
  });
});

describe("Session", () => {
  it("keeps bindings across calls and returns the trailing expression", async () => {
    const { s } = session();
    expect((await s.execute("x = 2")).value).toBeUndefined();
    expect((await s.execute("y = x * 3\ny")).value).toBe(6);
    expect(s.bindings().sort()).toEqual(["x", "y"]);
  });
  it("throws one ScriptError with every diagnostic, and runs nothing of a failing cell", async () => {
    const { s, out } = session();
    const err = await s.execute('print("first")\nz = nope + 1\nw = ties(1)').catch((e) => e);
    expect(err).toBeInstanceOf(ScriptError);
    expect(err.diagnostics.map((d: { loc: { line: number } }) => d.loc.line)).toEqual([2, 3, 3]); // ties(1): a number for xs, and no base
    expect(err.loc).toMatchObject({ file: "<input>", line: 2, col: 5 });
    expect(err.rendered).toContain("<input>:2:5: error: unknown name 'nope'\nz = nope + 1\n    ^~~~");
    expect(out).toEqual([]);
    expect(s.bindings()).toEqual([]);
  });
  it("dryRun sessions bind lazy results and write nothing", async () => {
    const s = new Session({ cwd: ws, dryRun: true, stdout: () => {} });
    await s.execute('m = load("models/base") * 2\nsave(m, "out/dry")');
    expect(isModel(s.get("m"))).toBe(true);
    expect(fs.existsSync(path.join(ws, "out/dry"))).toBe(false);
  });
  it("a save's model card records the cells run so far, in order, as the recipe", async () => {
    const { s } = session();
    const cell1 = 'base = load("models/base")\nexperts = load_all("models/experts/*")';
    const cell2 = 'merged = ties(experts, base=base, k=0.5)\nsave(merged, "out/card-session")';
    await s.execute(cell1);
    await s.execute("nope +").catch(() => undefined); // a cell that does not run is not part of the recipe
    await s.execute(cell2);
    const card = fs.readFileSync(path.join(ws, "out/card-session/README.md"), "utf8");
    expect(card).toContain(`${cell1}\n\n${cell2}\n`);
    expect(card).not.toContain("nope +");
    expect(card).toContain("ties(experts, base=base, k=0.5)");
  });
  it("an explicit options.recipe wins over the session's cells", async () => {
    const s = new Session({ cwd: ws, stdout: () => {}, options: { workers: 0, recipe: { text: "# the given recipe\n" } } });
    await s.execute('save(load("models/base") * 1, "out/card-given")');
    const card = fs.readFileSync(path.join(ws, "out/card-given/README.md"), "utf8");
    expect(card).toContain("# the given recipe");
    expect(card).not.toContain("out/card-given");
  });
  it("warn writes to the stderr option and clear_output calls clearOutput, once each (not during the check)", async () => {
    const out: string[] = [], err: string[] = [], clears: boolean[] = [];
    const s = new Session({ cwd: ws, stdout: (t) => out.push(t), stderr: (t) => err.push(t), clearOutput: (w) => clears.push(w) });
    expect((await s.execute('print("a")\nwarn("k =", [0.9], sep="-")\nclear_output(wait=true)\nclear_output()\n1')).value).toBe(1);
    expect(out).toEqual(["a\n"]);
    expect(err).toEqual(["k =-[0.9]\n"]);
    expect(clears).toEqual([true, false]);
  });
  it("interrupts through the AbortSignal", async () => {
    const c = new AbortController();
    c.abort();
    const s = new Session({ cwd: ws, signal: c.signal });
    await expect(s.execute("x = 1")).rejects.toThrow(/interrupted/);
  });
});

describe("mx", () => {
  it("interpolates numbers, strings and arrays as values, not text", async () => {
    const mx = createMx(new Session({ cwd: ws }));
    expect(await mx`${[1, 2, 3]} * ${2}`).toEqual([2, 4, 6]);
    expect(await mx`${'a"b'} + "c"`).toBe('a"bc');
    expect(mx.session.bindings()).toEqual([]);
  });
  it("interpolates in-memory models from Record<string, tf.Tensor> and ModelValues", async () => {
    const mx = createMx(new Session({ cwd: ws, options: { workers: 0 } }));
    const a = { w: tf.tensor([1, 2, 3, 4], [2, 2]) };
    const b = { w: tf.tensor([3, 2, 1, 0], [2, 2]) };
    const avg = (await mx`mean([${a}, ${b}])`) as ModelValue;
    expect(isModel(avg)).toBe(true);
    const arrays = await materializeArrays(avg, { workers: 0 });
    expect(Array.from(arrays.w!.data as Float32Array)).toEqual([2, 2, 2, 2]);
    const base = modelFromTensors({ w: tf.zeros([2, 2]) });
    const k = 0.5;
    const ta = (await mx`${base} + ${k} * sum(${[avg, avg]} - ${base})`) as ModelValue;
    expect(Array.from((await materializeArrays(ta, { workers: 0 })).w!.data as Float32Array)).toEqual([2, 2, 2, 2]);
  });
  it("interpolates tfjs-layers models by their weight names", async () => {
    const mx = createMx(new Session({ cwd: ws, options: { workers: 0 } }));
    const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
    net.setWeights([tf.ones([3, 2]), tf.tensor([1, 2])]);
    const m = (await mx`${net} * 2`) as ModelValue;
    expect([...m.tensors.keys()].sort()).toEqual(["fc/bias", "fc/kernel"]);
    const arrays = await materializeArrays(m, { workers: 0 });
    expect(Array.from(arrays["fc/bias"]!.data as Float32Array)).toEqual([2, 4]);
  });
  it("errors point into the template text", async () => {
    const mx = createMx(new Session({ cwd: ws }));
    await expect(mx`ties(${[1]}, k=${2})`).rejects.toThrow(ScriptError);
  });
});

describe("notebook helpers", () => {
  const { s } = session();
  it("completes keyword arguments of the enclosing call, then names", async () => {
    await s.execute("experts_list = [1]");
    const code = "m = ties(xs, ba";
    const c = s.complete(code, code.length);
    expect(c.matches[0]).toBe("base=");
    expect(c.cursorStart).toBe(code.length - 2);
    expect(c.cursorEnd).toBe(code.length);
    expect(s.complete("x = expe", 8).matches).toContain("experts_list");
    expect(s.complete("x = load_", 9).matches).toContain("load_all");
    expect(s.complete("ties(xs, λ", 10).matches).toContain("λ=");
  });
  it("inspects a function from its spec", () => {
    const doc = s.inspect("ties(xs, k=0.2)", 2)!;
    expect(doc.split("\n")[0]).toMatch(/^ties\(xs, base, k=0\.2, .*λ=1/);
    expect(doc).toContain("k (also density): number | schedule, default 0.2, in (0, 1]");
    expect(doc).toContain("Example:");
    expect(s.inspect("ties(xs, k=0.2)", 10)).toBe(doc); // inside the call: the call's function
    expect(s.inspect("zzz", 1)).toBeUndefined();
  });
  it("tells complete, incomplete and invalid cells apart", () => {
    expect(s.isComplete("x = 1")).toBe("complete");
    expect(s.isComplete("x = ties(xs,")).toBe("incomplete");
    expect(s.isComplete("for k in xs {\n  print(k)")).toBe("incomplete");
    expect(s.isComplete("x = 1 +")).toBe("incomplete");
    expect(s.isComplete("x = )")).toBe("invalid");
    expect(s.isComplete("x = 1 2")).toBe("invalid");
  });
  it("formats values for display", () => {
    expect(formatValue([1, "a", new Dict(new Map([["k", 0.5]]))])).toBe('[1, "a", {k: 0.5}]');
    const t = new Table(["k", "acc"], [[0.1, 0.5], [0.2, null]]);
    // one presenter: print(), the CLI and notebooks show a table the same way (numbers right-aligned, a missing cell blank)
    expect(displayValue(t)).toEqual({
      "text/plain": "  k  acc\n───  ───\n0.1  0.5\n0.2",
      "text/html": '<table class="mergelab-table">\n<thead><tr><th>k</th><th>acc</th></tr></thead>\n<tbody>\n<tr><td style="text-align:right">0.1</td><td style="text-align:right">0.5</td></tr>\n<tr><td style="text-align:right">0.2</td><td></td></tr>\n</tbody>\n</table>',
    });
    expect(displayValue(2)).toEqual({ "text/plain": "2" });
  });
});
