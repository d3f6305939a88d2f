/**
 * Scale-out: `mergelab run FILE OUT --shard I/N` in N concurrent processes,
 * then `mergelab finalize OUT`, gives the tensors of a single-process run bit
 * for bit, in a normal Hugging Face directory (index, config, model card).
 */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "../helpers.js";
import { assignShards, parseShard } from "../../engine/shard.js";
import { finalize } from "../../cli/commands/finalize.js";
import { run as runScript } from "../../dsl/index.js";
import { fixtureWorkspace, readTensors, tensorDifferences } from "./checkpoints.js";

// DARE draws random numbers and TIES takes per-tensor thresholds: both must not depend on which process computes a tensor
const SCRIPT = `base = load("models/bf16")
experts = [load("models/f16"), load("models/f32.safetensors")]
m = dare_ties(experts, base=base, p=0.5, seed=11, weights=[0.7, 0.3])
save(m, OUT, dtype="f32")
`;

function runAsync(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

let work: string;
beforeAll(() => {
  work = fixtureWorkspace("mergelab-shard-");
  fs.writeFileSync(path.join(work, "merge.mlab"), `OUT_DIR = "single"\n${SCRIPT.replace("OUT", "OUT_DIR")}`);
});

/** The script with its output directory set by --set. */
const runArgs = (out: string, extra: string[] = []) => ["run", "merge.mlab", "--set", `OUT_DIR="${out}"`, "--quiet", ...extra];

describe("sharded runs", () => {
  it("N = 1 (no --shard): the reference", () => {
    const r = runCli(runArgs("single"), { cwd: work });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  for (const n of [2, 3]) {
    it(`N = ${n} concurrent processes + finalize == the single run, bitwise`, async () => {
      const out = `sharded-${n}`;
      const runs = await Promise.all(Array.from({ length: n }, (_, i) => runAsync(runArgs(out, ["--shard", `${i}/${n}`]), work)));
      for (const r of runs) {
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
      }
      const shards = fs.readdirSync(path.join(work, out, ".shards")).sort();
      expect(shards).toEqual(Array.from({ length: n }, (_, i) => `shard-0000${i + 1}-of-0000${n}`));
      const fin = runCli(["finalize", out, "--json"], { cwd: work });
      expect(fin.code).toBe(0);
      const summary = JSON.parse(fin.stdout);
      expect(summary).toMatchObject({ ok: true, shards: n, tensors: 9 });

      const dir = path.join(work, out);
      const single = readTensors(path.join(work, "single"));
      expect(tensorDifferences(readTensors(dir), single)).toEqual([]);
      // the index is valid: every tensor once, in a file that holds it, total_size = the data bytes
      const index = JSON.parse(fs.readFileSync(path.join(dir, "model.safetensors.index.json"), "utf8"));
      expect(Object.keys(index.weight_map).sort()).toEqual([...single.keys()].sort());
      const files = [...new Set(Object.values(index.weight_map) as string[])].sort();
      expect(files).toEqual(Array.from({ length: n }, (_, k) => `model-0000${k + 1}-of-0000${n}.safetensors`));
      for (const f of files) {
        const inFile = readTensors(path.join(dir, f));
        for (const name of inFile.keys()) expect(index.weight_map[name]).toBe(f);
      }
      expect(index.metadata.total_size).toBe([...single.values()].reduce((s, t) => s + t.raw.length, 0));
      // a normal directory: base's config (with torch_dtype set to what was written, as in the single run), the card, no leftovers
      expect(fs.readFileSync(path.join(dir, "config.json"), "utf8")).toBe(fs.readFileSync(path.join(work, "single/config.json"), "utf8"));
      expect(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"))).toEqual({ ...JSON.parse(fs.readFileSync(path.join(work, "models/bf16/config.json"), "utf8")), torch_dtype: "float32" });
      expect(new Set([...single.values()].map((t) => t.dtype))).toEqual(new Set(["F32"]));
      const card = fs.readFileSync(path.join(dir, "README.md"), "utf8");
      expect(card).toContain("dare_ties(experts, base=base, p=0.5, seed=11, weights=[0.7, 0.3])");
      expect(card).toContain(`assembled by \`mergelab finalize\` from ${n} shard runs`);
      expect(fs.existsSync(path.join(dir, ".shards"))).toBe(false);
    });
  }

  it("more shards than tensors (N = 11 for 9): the empty ones are fine (in this process)", async () => {
    const script = `OUT_DIR = "many"\n${SCRIPT.replace("OUT", "OUT_DIR")}`;
    for (let i = 0; i < 11; i++) await runScript(script, { cwd: work, file: "merge.mlab", options: { quiet: true, shard: { index: i, count: 11 } } });
    const s = finalize(path.join(work, "many"));
    expect(s.shards).toBe(11);
    expect(s.files.length).toBe(9); // one tensor per non-empty shard
    expect(tensorDifferences(readTensors(path.join(work, "many")), readTensors(path.join(work, "single")))).toEqual([]);
  });

  it("finalize refuses an incomplete set of shards, naming the missing one", async () => {
    const r = await runAsync(runArgs("partial", ["--shard", "1/3"]), work);
    expect(r.code).toBe(0);
    const fin = runCli(["finalize", "partial"], { cwd: work });
    expect(fin.code).toBe(1);
    expect(fin.stderr).toMatch(/^mergelab: error: partial: shards 0\/3, 2\/3 not finished/);
    expect(fs.readdirSync(path.join(work, "partial"))).toEqual([".shards"]);
  });

  it("a merge with whole-model statistics (ties scope=\"model\") is refused, not silently changed", async () => {
    const script = 'm = ties([load("models/f16"), load("models/f32.safetensors")], base=load("models/bf16"), k=0.3, scope="model")\nsave(m, "scoped")\n';
    const err = await runScript(script, { cwd: work, file: "scoped.mlab", options: { quiet: true, shard: { index: 0, count: 2 } } }).catch((e) => e);
    expect(String(err.rendered ?? err.message)).toMatch(/--shard: this merge takes statistics over the whole model/);
    expect(fs.existsSync(path.join(work, "scoped"))).toBe(false);
  });

  it("--shard must be I/N with I < N", () => {
    const r = runCli(runArgs("bad", ["--shard", "3/3"]), { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--shard "3\/3": expected I\/N with 0 <= I < N/);
    expect(fs.existsSync(path.join(work, "bad"))).toBe(false);
  });
});

describe("shard assignment", () => {
  const tensors = Array.from({ length: 40 }, (_, i) => ({ name: `model.layers.${i % 10}.w${i}`, bytes: ((i * 7919) % 97) * 1000 + 10 }));

  it("puts every tensor in exactly one shard, whatever the input order", () => {
    const a = assignShards(tensors, 3);
    const b = assignShards([...tensors].reverse(), 3);
    expect(a.size).toBe(40);
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
    expect(new Set(a.values())).toEqual(new Set([0, 1, 2]));
  });

  it("balances bytes: the loads differ by at most the largest tensor", () => {
    for (const n of [2, 3, 5]) {
      const a = assignShards(tensors, n);
      const load = new Array(n).fill(0);
      for (const t of tensors) load[a.get(t.name)!] += t.bytes;
      expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(Math.max(...tensors.map((t) => t.bytes)));
    }
  });

  it("parses I/N", () => {
    expect(parseShard("2/5")).toEqual({ index: 2, count: 5 });
    expect(() => parseShard("5/5")).toThrow(/0 <= I < N/);
    expect(() => parseShard("a/b")).toThrow(/expected I\/N/);
  });
});
