/**
 * Issue #17, silent wrong results: a lazy model never reads a file that
 * changed since its header was read (in the same script, or rewritten in
 * place by someone else during the run); non-finite parameters are refused;
 * finalize refuses shards run with different recipes.
 */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "../helpers.js";
import { expectClean, snapshot, workspace, writeF32 } from "./util.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function ws(): string {
  const d = workspace();
  dirs.push(d);
  return d;
}

describe("a model never reads a file that changed after its header was read", () => {
  it("same script: an input replaced by an earlier save() is refused, not read through the old header", () => {
    const dir = ws();
    fs.writeFileSync(
      path.join(dir, "exp.merge"),
      'b = load("models/b")\nc = load("models/c")\nsave(b * 3, "models/c", overwrite=true)\nsave(c + b, "out")\n',
    );
    fs.cpSync(path.join(dir, "models/a"), path.join(dir, "models/c"), { recursive: true });
    const r = runCli(["run", "exp.merge", "--quiet"], { cwd: dir });
    expectClean(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/models\/c.*changed/);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });

  it("an input rewritten in place during a run fails the run; nothing is written", async () => {
    const dir = ws();
    // big enough that the run is still going when the test rewrites the input (16 × 1M floats)
    const big = Array.from({ length: 16 }, (_, l) => ({ name: `model.layers.${l}.w`, shape: [1024, 1024], values: new Float32Array(1 << 20).fill(l / 16) }));
    writeF32(path.join(dir, "models/big/model.safetensors"), big);
    fs.writeFileSync(path.join(dir, "exp.merge"), 'm = load("models/big")\nsave(m * 2, "out")\n');
    const file = path.join(dir, "models/big/model.safetensors");
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), "run", "exp.merge", "--workers", "0", "--chunk-size", "65536"], {
      cwd: dir,
      env: { ...process.env, MERGELAB_PROGRESS_INTERVAL: "0" },
    });
    let stderr = "";
    let rewrote = false;
    child.stderr.on("data", (d) => {
      stderr += String(d);
      if (!rewrote && /merging\s+\d+\/16/.test(stderr)) {
        rewrote = true;
        const fd = fs.openSync(file, "r+"); // same size, other bytes: an in-place rewrite
        fs.writeSync(fd, Buffer.alloc(4096, 0x41), 0, 4096, fs.statSync(file).size - 4096);
        fs.closeSync(fd);
      }
    });
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(rewrote, stderr).toBe(true);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/changed/);
    expect(stderr).not.toMatch(/internal error/);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  }, 60_000);
});

describe("non-finite parameters are refused everywhere", () => {
  const cases: Array<[string, string]> = [
    ["λ=1e400", "m = task_arithmetic([b], base=a, λ=1e400)"],
    ["lambda=-1e400", "m = ties([b], base=a, k=0.5, lambda=-1e400)"],
    ["weights=[1e400, 1]", "m = linear([a, b], weights=[1e400, 1])"],
    ["t=1e400", "m = slerp(a, b, t=1e400)"],
    ["model * 1e400", "m = a * 1e400"],
    ["1e400 - 1e400 (NaN)", "m = a + (1e400 - 1e400) * b"],
    ["model / 0", "m = a / 0"],
  ];
  for (const [label, line] of cases) {
    it(`${label}: check refuses it, run writes nothing`, () => {
      const dir = ws();
      fs.writeFileSync(path.join(dir, "exp.merge"), `a = load("models/a")\nb = load("models/b")\n${line}\nsave(m, "out")\n`);
      const before = snapshot(dir);
      const c = runCli(["check", "exp.merge"], { cwd: dir });
      expectClean(c, line);
      expect(c.code, `${line}\n${c.stdout}${c.stderr}`).toBe(1);
      expect(c.stderr).toMatch(/finite|infinite|NaN|∞|division by zero|too large/i);
      expect(c.stderr).toMatch(/exp\.merge:3:\d+: error:/);
      const r = runCli(["run", "exp.merge", "--quiet"], { cwd: dir });
      expect(r.code).toBe(1);
      expect(snapshot(dir)).toEqual(before);
    });
  }
});

describe("finalize refuses shards of different recipes", () => {
  it("a shard run with another --set value is detected", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nb = load("models/b")\nk = 0.5\nsave(a + k * b, "out")\n');
    expect(runCli(["run", "exp.merge", "--shard", "0/2", "--quiet"], { cwd: dir }).code).toBe(0);
    expect(runCli(["run", "exp.merge", "--shard", "1/2", "--quiet", "--set", "k=0.7"], { cwd: dir }).code).toBe(0);
    const before = snapshot(dir);
    const r = runCli(["finalize", "out"], { cwd: dir });
    expectClean(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/recipe/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("a shard run from an edited script is detected", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nb = load("models/b")\nsave(a + 0.5 * b, "out")\n');
    expect(runCli(["run", "exp.merge", "--shard", "0/2", "--quiet"], { cwd: dir }).code).toBe(0);
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nb = load("models/b")\nsave(a + 0.6 * b, "out")\n');
    expect(runCli(["run", "exp.merge", "--shard", "1/2", "--quiet"], { cwd: dir }).code).toBe(0);
    const r = runCli(["finalize", "out"], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/recipe/);
  });

  it("shards of one recipe still finalize", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nb = load("models/b")\nk = 0.5\nsave(a + k * b, "out")\n');
    for (const i of [0, 1]) expect(runCli(["run", "exp.merge", "--shard", `${i}/2`, "--quiet", "--set", "k=0.7"], { cwd: dir }).code).toBe(0);
    const r = runCli(["finalize", "out"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });
});
