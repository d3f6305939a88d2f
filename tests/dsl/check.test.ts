/**
 * The checker against real checkpoints on disk: every mistake is reported at
 * the right FILE:LINE:COL before any tensor data is read (io's read
 * counters stay put), and a correct script checks clean.
 */
import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { check, Session } from "../../dsl/index.js";
import { ioCounters } from "../../io/index.js";
import { makeWorkspace } from "./workspace.js";

const ws = makeWorkspace();
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

async function diagnose(text: string): Promise<string[]> {
  const before = { ...ioCounters };
  const ds = await check(text, { file: "exp.merge", cwd: ws });
  expect(ioCounters.dataReads).toBe(before.dataReads);
  expect(ioCounters.dataBytes).toBe(before.dataBytes);
  return ds.map((d) => `${d.loc.file}:${d.loc.line}:${d.loc.col}: ${d.message}`);
}

const header = `base = load("models/base")
experts = load_all("models/experts/*")
`;

describe("check from headers only", () => {
  it("a correct script has no diagnostics and reads headers only", async () => {
    const headersBefore = ioCounters.headerReads;
    const text = `${header}m = ties(experts, base=base, k=0.2, lambda=1)
save(m, "out/ties", dtype="bf16")
m2 = base + 0.3 * sum(experts - base)
save(m2, "out/ta")`;
    expect(await diagnose(text)).toEqual([]);
    expect(ioCounters.headerReads).toBeGreaterThanOrEqual(headersBefore);
    expect(fs.existsSync(`${ws}/out`)).toBe(false);
  });

  it("mismatched shape: at the operator expression", async () => {
    expect(await diagnose(`${header}odd = load("models/wrong-shape.safetensors")\n\ntv = [odd] - base`)).toEqual([
      "exp.merge:5:6: tensor 'model.layers.1.mlp.up_proj.weight': shape [16, 8] in models/wrong-shape.safetensors but [12, 8] in models/base",
    ]);
  });

  it("mismatched shape inside a method call: at the call", async () => {
    const ds = await diagnose(`${header}m = ties([experts[0], load("models/wrong-shape.safetensors")], base=base)`);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatch(/^exp\.merge:3:5: tensor 'model\.layers\.1\.mlp\.up_proj\.weight': shape /);
  });

  it("missing tensor", async () => {
    expect(await diagnose(`${header}gap = load("models/missing-norm.safetensors")\nm = mean([base, gap])`)).toEqual([
      "exp.merge:4:5: tensor 'model.norm.weight' is in models/base but missing from models/missing-norm.safetensors",
    ]);
  });

  it("wrong argument type: at the argument", async () => {
    expect(await diagnose(`${header}m = ties(experts, base=experts, k=0.2)`)).toEqual([
      "exp.merge:3:19: ties(): base must be a model, got a list of 2",
    ]);
    expect(await diagnose(`${header}m = slerp(experts[0], 3, t=0.5)`)).toEqual(["exp.merge:3:23: slerp(): b must be a model, got a number (3)"]);
  });

  it("out-of-range values, also inside schedules", async () => {
    expect(await diagnose(`${header}m = ties(experts, base=base, k=0)`)).toEqual(["exp.merge:3:30: ties(): k must be in (0, 1], got 0"]);
    expect(await diagnose(`${header}m = dare_ties(experts, base=base, p=-0.1)`)).toEqual(["exp.merge:3:35: dare_ties(): p must be in [0, 1), got -0.1"]);
    expect(await diagnose(`${header}m = ties(experts, base=base,\n  k=match({"mlp": 2}, default=0.2))`)).toEqual([
      "exp.merge:4:3: ties(): k must be in (0, 1], got 2",
    ]);
  });

  it("p = 1 (drop everything, divide by 1 − p = 0) is out of range everywhere p is declared", async () => {
    expect(await diagnose(`${header}m = dare_linear(experts, base=base, p=1)`)).toEqual(["exp.merge:3:37: dare_linear(): p must be in [0, 1), got 1"]);
    expect(await diagnose(`${header}m = dare_ties(experts, base=base, drop_rate=1)`)).toEqual([
      "exp.merge:3:35: dare_ties(): p must be in [0, 1), got 1",
    ]);
    expect(await diagnose(`${header}m = base + sum(drop(experts - base, p=layers([0.5, 1])))`)).toEqual([
      "exp.merge:3:37: drop(): p must be in [0, 1), got 1",
    ]);
    expect(await diagnose(`${header}m = dare_ties(experts, base=base, p=0.99)`)).toEqual([]);
  });

  it("slerp's t is in [0, 1], also inside layers() and match()", async () => {
    expect(await diagnose(`${header}m = slerp(experts[0], experts[1], t=1.5)`)).toEqual(["exp.merge:3:35: slerp(): t must be in [0, 1], got 1.5"]);
    expect(await diagnose(`${header}m = slerp(experts[0], experts[1], t=layers([0, 0.5, -0.25]))`)).toEqual([
      "exp.merge:3:35: slerp(): t must be in [0, 1], got -0.25",
    ]);
    expect(await diagnose(`${header}m = slerp(experts[0], experts[1],\n  t=match({"mlp": 0.3}, default=2))`)).toEqual([
      "exp.merge:4:3: slerp(): t must be in [0, 1], got 2",
    ]);
    expect(await diagnose(`${header}m = slerp(experts[0], experts[1], t=layers([0, 0.5, 1]))`)).toEqual([]);
  });

  it("reports every independent error of a script, and no cascades", async () => {
    const ds = await diagnose(`bse = load("models/base")
experts = load_all("models/experts/*")
tv = experts - base
m = ties(experts, base=bse, k=3)
n = m + 1
save(m, "out/x", dtype="f8")
q = expert`);
    expect(ds).toEqual([
      "exp.merge:3:16: unknown name 'base' (did you mean 'bse'?)",
      "exp.merge:4:29: ties(): k must be in (0, 1], got 3",
      `exp.merge:6:18: save(): dtype must be one of "bf16", "f16", "f32", got "f8"`,
      "exp.merge:7:5: unknown name 'expert' (did you mean 'experts'?)",
    ]);
  });

  it("an existing output directory is refused unless overwrite=true", async () => {
    fs.mkdirSync(`${ws}/taken`);
    fs.writeFileSync(`${ws}/taken/model.safetensors`, "x");
    expect(await diagnose(`${header}save(base * 1, "taken")`)).toEqual([
      "exp.merge:3:16: save(): taken: output exists and is not empty (use overwrite=true)".replace("save(): ", ""),
    ]);
    expect(await diagnose(`${header}save(base * 1, "taken", overwrite=true)`)).toEqual([]);
    fs.rmSync(`${ws}/taken`, { recursive: true });
  });

  it("user functions: names checked at definition, types at the call", async () => {
    expect(await diagnose("def f(xs, b) = b + sum(xs - bb)")).toEqual(["exp.merge:1:29: unknown name 'bb' (did you mean 'b'?)"]);
    const ds = await diagnose(`${header}def my_merge(xs, base, k) = base + k * sum(xs - base)
m = my_merge(experts, base, "x")`);
    expect(ds).toEqual(["exp.merge:3:36: cannot apply '*' to a string (\"x\") and a model"]);
  });

  it("the checked script binds nothing in the session", async () => {
    const s = new Session({ cwd: ws });
    await s.check(`${header}m = base * 2`);
    expect(s.bindings()).toEqual([]);
  });
});
