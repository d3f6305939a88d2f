/**
 * Issue #17, kill tests: SIGKILL at random moments of an overwriting run
 * (`save(..., overwrite=true)`; mergelab has no `run --force`) and of
 * `finalize`, plus at each named step of their commits
 * (MERGELAB_CRASH_AT=<step>: the process SIGKILLs itself there, so the
 * microsecond windows between renames are hit every time). After each kill:
 *  - a read-only command (`inspect`) sees the old or the new output complete, never neither;
 *  - the next run (or `finalize`) completes the new output;
 *  - no temporary, old or journal entries are left anywhere.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, rng, runCli, tempDir } from "../helpers.js";
import { readF32, strayTemps, writeF32 } from "./util.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Two inputs of 8 tensors × 128K floats (4 MB each): the run spends a while writing. */
function bigWorkspace(): string {
  const dir = tempDir("mergelab-hostile-kill-");
  dirs.push(dir);
  for (const [name, seed] of [["a", 1], ["b", 2]] as const) {
    writeF32(
      path.join(dir, "models", name, "model.safetensors"),
      Array.from({ length: 8 }, (_, l) => ({ name: `model.layers.${l}.w`, shape: [512, 256], values: new Float32Array(512 * 256).map((_, i) => Math.sin(seed * 13 + l + i * 1e-3)) })),
    );
    fs.writeFileSync(path.join(dir, "models", name, "config.json"), '{"model_type": "llama"}\n');
  }
  return dir;
}

type Tensors = Map<string, Float32Array>;
const equal = (x: Tensors, y: Tensors) => x.size === y.size && [...x].every(([k, v]) => Buffer.from(v.buffer).equals(Buffer.from(y.get(k)!.buffer)));

/** Every tensor of a checkpoint directory written by mergelab (one file or shards + index). */
function tensorsOf(dir: string): Tensors {
  const out: Tensors = new Map();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".safetensors")).sort()) for (const [k, v] of readF32(path.join(dir, f))) out.set(k, v);
  return out;
}

function killAfter(args: string[], cwd: string, ms: number, env: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), ...args], { cwd, env: { ...process.env, ...env }, stdio: "ignore" });
    const t = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code, signal) => (clearTimeout(t), resolve({ code, signal })));
  });
}

const OLD = 'a = load("models/a")\nb = load("models/b")\nsave(a * 2, "out", overwrite=true, shard_size="3MB")\n';
const NEW = 'a = load("models/a")\nb = load("models/b")\nsave(a + b, "out", overwrite=true, shard_size="3MB")\n';

const COMMIT_STEPS = ["commit:journal-partial", "commit:journaled", "commit:old-moved", "commit:new-moved", "commit:old-removed"];
const FINALIZE_STEPS = ["finalize:journaled", "finalize:side-files", "finalize:moved-1", "finalize:moved-2", "finalize:index", "finalize:done"];

describe("SIGKILL during an overwriting run", () => {
  it("at each commit step and at 20 random moments: old or new complete, then the next run completes, nothing stray", async () => {
    const dir = bigWorkspace();
    fs.writeFileSync(path.join(dir, "old.merge"), OLD);
    fs.writeFileSync(path.join(dir, "new.merge"), NEW);
    expect(runCli(["run", "new.merge", "--quiet"], { cwd: dir }).code).toBe(0);
    const expectedNew = tensorsOf(path.join(dir, "out"));
    const t0 = Date.now();
    expect(runCli(["run", "old.merge", "--quiet"], { cwd: dir }).code).toBe(0);
    const runMs = Date.now() - t0;
    const expectedOld = tensorsOf(path.join(dir, "out"));
    expect(equal(expectedOld, expectedNew)).toBe(false);
    const oldCopy = path.join(dir, "..", `${path.basename(dir)}-old-out`);
    fs.cpSync(path.join(dir, "out"), oldCopy, { recursive: true });
    dirs.push(oldCopy);

    const r = rng(4242);
    const points: Array<{ label: string; ms: number; env: Record<string, string> }> = [
      ...COMMIT_STEPS.map((s) => ({ label: s, ms: 60_000, env: { MERGELAB_CRASH_AT: s } })),
      ...Array.from({ length: 20 }, (_, i) => ({ label: `random ${i}`, ms: Math.floor(runMs * (0.2 + 0.9 * r())), env: {} })),
    ];
    for (const p of points) {
      // start from the old output each time (a copy of what the old run wrote)
      fs.rmSync(path.join(dir, "out"), { recursive: true, force: true });
      fs.cpSync(oldCopy, path.join(dir, "out"), { recursive: true });
      const killed = await killAfter(["run", "new.merge", "--quiet"], dir, p.ms, p.env);
      if (p.env.MERGELAB_CRASH_AT) expect(killed.signal, `${p.label} should have crashed there`).toBe("SIGKILL");
      // a read-only command: the output is the old or the new one, complete
      const inspect = runCli(["inspect", "out"], { cwd: dir });
      expect(inspect.code, `${p.label}: inspect after the kill: ${inspect.stderr}`).toBe(0);
      const seen = tensorsOf(path.join(dir, "out"));
      expect(equal(seen, expectedOld) || equal(seen, expectedNew), `${p.label}: output is neither old nor new`).toBe(true);
      // the next run completes it and leaves nothing behind
      const next = runCli(["run", "new.merge", "--quiet"], { cwd: dir });
      expect(next.code, `${p.label}: next run: ${next.stderr}`).toBe(0);
      expect(equal(tensorsOf(path.join(dir, "out")), expectedNew), p.label).toBe(true);
      expect(strayTemps(dir), p.label).toEqual([]);
    }
  }, 600_000);
});

describe("SIGKILL during finalize", () => {
  it("at each finalize step and at 20 random moments: finalize again completes it, nothing stray", async () => {
    const dir = bigWorkspace();
    fs.writeFileSync(path.join(dir, "new.merge"), NEW.replace('"out"', '"ref"'));
    expect(runCli(["run", "new.merge", "--quiet"], { cwd: dir }).code).toBe(0);
    const expected = tensorsOf(path.join(dir, "ref"));
    fs.writeFileSync(path.join(dir, "shard.merge"), 'a = load("models/a")\nb = load("models/b")\nsave(a + b, "out")\n');
    for (const i of [0, 1, 2]) expect(runCli(["run", "shard.merge", "--shard", `${i}/3`, "--quiet"], { cwd: dir }).code).toBe(0);
    const shardsCopy = path.join(dir, "..", `${path.basename(dir)}-shards`);
    fs.cpSync(path.join(dir, "out"), shardsCopy, { recursive: true });
    dirs.push(shardsCopy);
    // every point starts from the three finished shards (a copy of what the shard runs wrote)
    const shardRun = () => {
      fs.rmSync(path.join(dir, "out"), { recursive: true, force: true });
      fs.cpSync(shardsCopy, path.join(dir, "out"), { recursive: true });
    };
    const t0 = Date.now();
    expect(runCli(["finalize", "out"], { cwd: dir }).code).toBe(0);
    const finMs = Date.now() - t0;
    expect(equal(tensorsOf(path.join(dir, "out")), expected)).toBe(true);

    const r = rng(99);
    const points = [
      ...FINALIZE_STEPS.map((s) => ({ label: s, ms: 60_000, env: { MERGELAB_CRASH_AT: s } as Record<string, string> })),
      ...Array.from({ length: 20 }, (_, i) => ({ label: `random ${i}`, ms: Math.floor(finMs * (0.3 + 0.8 * r())), env: {} as Record<string, string> })),
    ];
    for (const p of points) {
      shardRun();
      const killed = await killAfter(["finalize", "out"], dir, p.ms, p.env);
      if (p.env.MERGELAB_CRASH_AT) expect(killed.signal, `${p.label} should have crashed there`).toBe("SIGKILL");
      const again = runCli(["finalize", "out"], { cwd: dir });
      // killed part-way: finalize completes it; killed after it finished: it says so (already finalized)
      if (again.code !== 0) expect(again.stderr, `${p.label}: finalize again`).toMatch(/already holds .*finalize a directory only once/);
      expect(again.stderr, p.label).not.toMatch(/internal error|\n\s+at /);
      expect(equal(tensorsOf(path.join(dir, "out")), expected), p.label).toBe(true);
      expect(fs.existsSync(path.join(dir, "out", ".shards")), p.label).toBe(false);
      expect(strayTemps(dir), p.label).toEqual([]);
    }
    const load = runCli(["inspect", "out"], { cwd: dir });
    expect(load.code, load.stderr).toBe(0);
  }, 600_000);
});

/** Whether this machine lets us run a process in its own PID and UTS namespaces (root, Linux). */
function canUnshare(): boolean {
  try {
    return runCliLike(["unshare", "--pid", "--fork", "--uts", "sh", "-c", "hostname probe && true"]) === 0;
  } catch {
    return false;
  }
}
function runCliLike(cmd: string[]): number | null {
  return spawnSync(cmd[0]!, cmd.slice(1), { stdio: "ignore", timeout: 10_000 }).status;
}

describe.runIf(process.platform === "linux" && canUnshare())("two writers in different PID namespaces (two pods, one volume)", () => {
  it("neither deletes the other's live temporary directory", async () => {
    const dir = bigWorkspace();
    writeF32(
      path.join(dir, "models/big/model.safetensors"),
      Array.from({ length: 8 }, (_, l) => ({ name: `model.layers.${l}.w`, shape: [256, 256], values: new Float32Array(1 << 16).fill(l) })),
    );
    fs.writeFileSync(path.join(dir, "slow.merge"), 'm = load("models/big")\nsave(m * 2, "out", overwrite=true)\n');
    fs.writeFileSync(path.join(dir, "fast.merge"), 'a = load("models/a")\nsave(a * 3, "out", overwrite=true)\n');
    // pod A's writer is pid 3 in its namespace (sh, hostname, node); pod B's is pid 1 in its own, where no pid 3
    // exists: an owner check by pid alone would call A's live temporary directory stale and delete it
    // pod A stops just before its commit (MERGELAB_PAUSE_AT) with its complete temporary directory in place
    const inPod = (host: string, script: string, env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const cmd = `"${process.execPath}" "${path.join(repoRoot, "bin/mergelab.js")}" run ${script} --quiet --workers 0`;
        const child = spawn("unshare", ["--pid", "--fork", "--uts", "sh", "-c", host === "pod-a" ? `hostname ${host}; ${cmd}; exit $?` : `hostname ${host} && exec ${cmd}`], { cwd: dir, env: { ...process.env, ...env } });
        let err = "";
        child.stderr.on("data", (d) => (err += String(d)));
        child.on("exit", (code) => resolve({ code, err }));
      });
    let slowDone = false;
    const slow = inPod("pod-a", "slow.merge", { MERGELAB_PAUSE_AT: "commit:before", MERGELAB_PAUSE_MS: "25000" }).then((r) => ((slowDone = true), r));
    // wait until pod A's temporary directory exists, then run pod B on the same target
    const t0 = Date.now();
    while (!fs.readdirSync(dir).some((n) => n.startsWith(".out.tmp-")) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
    expect(fs.readdirSync(dir).some((n) => n.startsWith(".out.tmp-")), "pod A never started writing").toBe(true);
    const fast = await inPod("pod-b", "fast.merge");
    expect(fast.code, fast.err).toBe(0);
    expect(slowDone, "pod A finished before pod B: no overlap to test").toBe(false);
    const a = await slow;
    expect(a.code, a.err).toBe(0); // its temporary directory survived pod B's cleanup of stale ones
    expect(tensorsOf(path.join(dir, "out")).get("model.layers.3.w")![0]).toBe(6); // pod A committed last, complete
    expect(strayTemps(dir)).toEqual([]);
  }, 120_000);
});
