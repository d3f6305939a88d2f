/**
 * `mergelab run | check | explain FILE` through the built CLI: exit codes,
 * diagnostics on stderr (with caret lines, no stack trace), --set,
 * --dry-run writing nothing, and mergekit YAML delegation.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../helpers.js";
import { openCheckpoint } from "../../../io/index.js";
import { makeWorkspace } from "../../dsl/workspace.js";

const ws = makeWorkspace();
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

function script(name: string, text: string): string {
  fs.writeFileSync(path.join(ws, name), text);
  return name;
}

const good = script(
  "good.merge",
  `base = load("models/base")
experts = load_all("models/experts/*")
k = 0.2
print("k =", k)
m = ties(experts, base=base, k=k)
save(m, "out/ties", dtype="f32")
`,
);
const bad = script(
  "bad.merge",
  `base = load("models/base")
experts = load_all("models/experts/*")
m = ties(experts, bsae=base, k=1.5)
save(m, "out/bad")
`,
);

describe("mergelab check", () => {
  it("exit 0 and one summary line for a good script", () => {
    const r = runCli(["check", good], { cwd: ws });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("good.merge: ok (1 save)\n");
    expect(r.code).toBe(0);
  });
  it("exit 1 with every diagnostic on stderr and nothing on stdout", () => {
    const r = runCli(["check", bad], { cwd: ws });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `bad.merge:3:19: error: ties() has no parameter 'bsae' (did you mean 'base'?)
m = ties(experts, bsae=base, k=1.5)
                  ^~~~
bad.merge:3:30: error: ties(): k must be in (0, 1], got 1.5
m = ties(experts, bsae=base, k=1.5)
                             ^~~~~
`,
    );
  });
  it("a missing script file is a one-line error", () => {
    const r = runCli(["check", "nope.merge"], { cwd: ws });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("mergelab: error: nope.merge: cannot read the script\n");
  });
});

describe("mergelab run", () => {
  it("--dry-run checks and writes nothing", () => {
    const r = runCli(["run", good, "--dry-run"], { cwd: ws });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("good.merge: ok (dry run): would save " + path.join(fs.realpathSync(ws), "out/ties") + "\n");
    expect(fs.existsSync(path.join(ws, "out"))).toBe(false);
  });
  it("a failing check runs nothing", () => {
    const r = runCli(["run", bad], { cwd: ws });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad.merge:3:30: error: ties(): k must be in (0, 1], got 1.5");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.existsSync(path.join(ws, "out"))).toBe(false);
  });
  it("--set replaces a top-level assignment, typed as a literal", () => {
    const r = runCli(["run", good, "--set", "k=0.5", "--quiet", "--workers", "0"], { cwd: ws });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("k = 0.5\n");
    const out = openCheckpoint(path.join(ws, "out/ties"));
    expect(out.tensors.map((t) => t.name)).toContain("model.norm.weight");
    fs.rmSync(path.join(ws, "out"), { recursive: true });
  });
  it("--set values out of range are diagnosed at the assignment's use", () => {
    const r = runCli(["run", good, "--set", "k=2", "--dry-run"], { cwd: ws });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("good.merge:5:30: error: ties(): k must be in (0, 1], got 2");
  });
  it("--set of a name the script never assigns is an error", () => {
    const r = runCli(["run", good, "--set", "kk=0.5", "--dry-run"], { cwd: ws });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("mergelab: error: --set kk: the script has no top-level assignment to 'kk' (did you mean 'k'?)\n");
  });
  it("runs a mergekit YAML config through the translator", () => {
    fs.writeFileSync(
      path.join(ws, "lin.yml"),
      "merge_method: linear\nmodels:\n  - model: models/experts/a\n    parameters:\n      weight: 0.5\n  - model: models/base\n    parameters:\n      weight: 0.5\ndtype: float32\n",
    );
    const r = runCli(["run", "lin.yml", "merged-lin", "--quiet", "--workers", "0"], { cwd: ws });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(openCheckpoint(path.join(ws, "merged-lin")).tensors).toHaveLength(9);
  });
});

describe("mergelab explain", () => {
  it("prints the plan of the saved models", () => {
    const r = runCli(["explain", good], { cwd: ws });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^plan: 1 output model\(s\), 9 tensors/);
    expect(r.stdout).toContain("kth(");
    expect(fs.existsSync(path.join(ws, "out"))).toBe(false);
  });
});
