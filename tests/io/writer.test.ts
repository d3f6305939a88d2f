// The writer's promises: nothing at the target before commit, nothing left after abort or failure,
// existing outputs untouched unless overwrite, side files copied, provenance in __metadata__.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MergelabError } from "../../core/errors.js";
import { CheckpointWriter, nonWeightFiles, openCheckpoint, type OutputTensor } from "../../io/index.js";
import { fixtures, repoRoot, tempDir } from "../helpers.js";
import { copyFixture, listTree } from "./st-files.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tensors: OutputTensor[] = [
  { name: "a", dtype: "BF16", shape: [4, 4] },
  { name: "b", dtype: "F32", shape: [3] },
];
function fill(w: CheckpointWriter, value = 1.5): void {
  w.writeF32("a", 0, new Float32Array(16).fill(value));
  w.writeF32("b", 0, new Float32Array([1, 2, 3]));
}
function existingOutput(): string {
  const target = path.join(dir, "out");
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, "model.safetensors"), "precious");
  fs.writeFileSync(path.join(target, "notes.txt"), "keep me");
  return target;
}

describe("temporary sibling directory and commit", () => {
  it("writes into .NAME.tmp-XXXX and shows nothing at the target until commit", () => {
    const target = path.join(dir, "out");
    const w = CheckpointWriter.create(target, tensors);
    expect(fs.existsSync(target)).toBe(false);
    expect(path.dirname(w.layout.tempDir)).toBe(dir);
    expect(path.basename(w.layout.tempDir)).toMatch(/^\.out\.tmp-/);
    fill(w);
    expect(w.commit()).toBe(target);
    expect(fs.readdirSync(dir)).toEqual(["out"]);
    expect(Array.from(openCheckpoint(target).readF32("a", 0, 16))).toEqual(new Array(16).fill(1.5));
  });

  it("abort() leaves no output and no temp dir", () => {
    const w = CheckpointWriter.create(path.join(dir, "out"), tensors);
    w.writeF32("a", 0, new Float32Array(8));
    w.abort();
    expect(fs.readdirSync(dir)).toEqual([]);
    w.abort(); // idempotent
  });

  it("commit() refuses a tensor that was not completely written, leaving nothing", () => {
    const w = CheckpointWriter.create(path.join(dir, "out"), tensors);
    w.writeF32("a", 0, new Float32Array(16));
    w.writeF32("b", 0, new Float32Array(2));
    expect(() => w.commit()).toThrow(/tensor 'b' got 8 of its 12 bytes/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("creates missing parent directories", () => {
    const target = path.join(dir, "runs", "x", "out");
    const w = CheckpointWriter.create(target, tensors);
    fill(w);
    w.commit();
    expect(fs.readdirSync(path.join(dir, "runs", "x"))).toEqual(["out"]);
  });

  it("an empty existing directory is filled without --force", () => {
    const target = path.join(dir, "out");
    fs.mkdirSync(target);
    const w = CheckpointWriter.create(target, tensors);
    fill(w);
    w.commit();
    expect(fs.readdirSync(target)).toEqual(["model.safetensors"]);
  });

  it("rejects chunks outside a tensor and unknown tensor names", () => {
    const w = CheckpointWriter.create(path.join(dir, "out"), tensors);
    expect(() => w.writeF32("a", 10, new Float32Array(8))).toThrow(/elements \[10, 18\) out of range \(16\)/);
    expect(() => w.writeRaw("b", 0, new Uint8Array(13))).toThrow(/bytes \[0, 13\) out of range \(12\)/);
    expect(() => w.writeF32("c", 0, new Float32Array(1))).toThrow(/tensor 'c' is not among the output tensors/);
    w.abort();
  });
});

describe("existing outputs", () => {
  it("a non-empty target is refused without overwrite, before anything is created, and stays intact", () => {
    const target = existingOutput();
    const before = listTree(dir);
    expect(() => CheckpointWriter.create(target, tensors)).toThrow(MergelabError);
    expect(() => CheckpointWriter.create(target, tensors)).toThrow(/output exists and is not empty; not overwritten \(save with overwrite=true/);
    expect(listTree(dir)).toEqual(before);
    expect(fs.readFileSync(path.join(target, "model.safetensors"), "utf8")).toBe("precious");
  });

  it("with overwrite, the old output stays intact until commit, then is replaced entirely", () => {
    const target = existingOutput();
    const w = CheckpointWriter.create(target, tensors, { overwrite: true });
    fill(w, 2);
    expect(fs.readFileSync(path.join(target, "model.safetensors"), "utf8")).toBe("precious");
    w.commit();
    expect(fs.readdirSync(target)).toEqual(["model.safetensors"]);
    expect(openCheckpoint(target).readF32("a", 0, 1)[0]).toBe(2);
    expect(fs.readdirSync(dir)).toEqual(["out"]); // no .out.old-* left
  });

  it("with overwrite, a failed run leaves the old output intact and no temp dir", () => {
    const target = existingOutput();
    const w = CheckpointWriter.create(target, tensors, { overwrite: true });
    w.writeF32("a", 0, new Float32Array(16));
    w.abort();
    expect(fs.readdirSync(dir)).toEqual(["out"]);
    expect(fs.readFileSync(path.join(target, "notes.txt"), "utf8")).toBe("keep me");
  });
});

describe("write errors", () => {
  it("a full disk (ENOSPC) removes the temp dir and names the output path", () => {
    const target = path.join(dir, "out");
    const w = CheckpointWriter.create(target, tensors);
    vi.spyOn(fs, "writeSync").mockImplementation(() => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    });
    let err: unknown;
    try {
      w.writeF32("a", 0, new Float32Array(16));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MergelabError);
    expect((err as Error).message).toBe(`${target}: writing tensor 'a' failed: no space left on device`);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(() => w.commit()).toThrow(/already committed or aborted/);
  });

  it("a full disk while an existing output is being replaced leaves the old one intact", () => {
    const target = existingOutput();
    const w = CheckpointWriter.create(target, tensors, { overwrite: true });
    vi.spyOn(fs, "writeSync").mockImplementation(() => {
      throw Object.assign(new Error("ENOSPC"), { code: "ENOSPC" });
    });
    expect(() => fill(w)).toThrow(/no space left on device/);
    expect(fs.readdirSync(dir)).toEqual(["out"]);
    expect(fs.readFileSync(path.join(target, "model.safetensors"), "utf8")).toBe("precious");
  });
});

/** Run a script in a child node process that imports the built library (dist/). */
function child(code: string, signal?: NodeJS.Signals) {
  const lib = JSON.stringify(path.join(repoRoot, "dist/io/index.js"));
  const script = `const io = await import(${lib}); const dir = ${JSON.stringify(dir)};\n${code}`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  if (signal) expect(r.signal).toBe(signal);
  return r;
}
const startWriting = `
  const w = io.CheckpointWriter.create(dir + "/out", [{ name: "a", dtype: "BF16", shape: [1000] }]);
  w.writeF32("a", 0, new Float32Array(500));`;

describe("interrupted processes", () => {
  it("process.exit() mid-write leaves no output and no temp dir", () => {
    const r = child(`${startWriting}\n process.exit(3);`);
    expect(r.status).toBe(3);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("Ctrl-C (SIGINT) mid-write leaves no output and no temp dir, and still dies by the signal", () => {
    child(`${startWriting}\n process.kill(process.pid, "SIGINT"); await new Promise((r) => setTimeout(r, 5000));`, "SIGINT");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("an uncatchable kill leaves only a temp dir, which the next run on that target removes", () => {
    child(`${startWriting}\n process.kill(process.pid, "SIGKILL");`, "SIGKILL");
    const left = fs.readdirSync(dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.out\.tmp-/);
    const w = CheckpointWriter.create(path.join(dir, "out"), tensors);
    expect(fs.readdirSync(dir)).toEqual([path.basename(w.layout.tempDir)]);
    w.abort();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("side files and metadata", () => {
  it("copies non-weight files from the source checkpoint and writes the caller's extra files", () => {
    const src = copyFixture(path.join(fixtures, "tiny-llama-bf16-sharded"), dir);
    for (const f of ["tokenizer.json", "tokenizer.model", "special_tokens_map.json", "chat_template.jinja", "generation_config.json", "README.md", "pytorch_model.bin", ".hidden"]) {
      fs.writeFileSync(path.join(src, f), `source ${f}`);
    }
    expect(nonWeightFiles(src)).toEqual(["chat_template.jinja", "config.json", "generation_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"]);
    const target = path.join(dir, "merged");
    const w = CheckpointWriter.create(target, tensors, { copyFrom: src, extraFiles: { "README.md": "# merged card\n", "recipe.mlab": "m = average(xs)\n" } });
    fill(w);
    w.commit();
    expect(fs.readdirSync(target).sort()).toEqual([
      "README.md", "chat_template.jinja", "config.json", "generation_config.json", "model.safetensors", "recipe.mlab",
      "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
    ]);
    expect(fs.readFileSync(path.join(target, "config.json"), "utf8")).toBe(fs.readFileSync(path.join(src, "config.json"), "utf8"));
    expect(fs.readFileSync(path.join(target, "README.md"), "utf8")).toBe("# merged card\n");
  });

  it("refuses extra files that are paths or weights", () => {
    expect(() => CheckpointWriter.create(path.join(dir, "o"), tensors, { extraFiles: { "../x.txt": "" } })).toThrow(/extra file name '..\/x.txt' is not allowed/);
    expect(() => CheckpointWriter.create(path.join(dir, "o"), tensors, { extraFiles: { "model.safetensors": "" } })).toThrow(/not allowed/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("__metadata__ holds format: pt and the caller's provenance, in every shard", () => {
    const target = path.join(dir, "out");
    const provenance = { mergelab_version: "0.1.0", recipe: "m = ties(xs, base=b, k=0.2)\nsave(m, \"out\")", inputs: JSON.stringify({ "/m/a": "ab12" }) };
    const w = CheckpointWriter.create(target, tensors, { metadata: provenance, shardSize: 40 });
    fill(w);
    w.commit();
    const c = openCheckpoint(target);
    expect(c.files).toHaveLength(2);
    expect(c.metadata).toEqual({ format: "pt", ...provenance });
    for (const f of c.files) {
      const buf = fs.readFileSync(f.path);
      const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
      expect(header.__metadata__.format).toBe("pt");
      expect(header.__metadata__.recipe).toBe(provenance.recipe);
    }
  });

  it("refuses non-string metadata and bad tensor lists before creating anything", () => {
    const target = path.join(dir, "out");
    expect(() => CheckpointWriter.create(target, tensors, { metadata: { n: 3 as unknown as string } })).toThrow(/metadata 'n' must be a string/);
    expect(() => CheckpointWriter.create(target, [...tensors, tensors[0]])).toThrow(/output tensor 'a': listed twice/);
    expect(() => CheckpointWriter.create(target, [{ name: "x", dtype: "F8" as "F32", shape: [1] }])).toThrow(/unknown dtype "F8"/);
    expect(() => CheckpointWriter.create(target, tensors, { shardSize: "lots" })).toThrow(/shard_size "lots"/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("provenanceMetadata", () => {
  it("records the recipe, the version and each input's header hashes as strings", async () => {
    const { provenanceMetadata } = await import("../../io/index.js");
    const base = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    const other = openCheckpoint(path.join(fixtures, "tiny-llama-f32.safetensors"));
    const m = provenanceMetadata({ recipe: "m = average([a, b])", version: "0.1.0", inputs: [base, other] });
    expect(m.mergelab_version).toBe("0.1.0");
    expect(m.mergelab_recipe).toBe("m = average([a, b])");
    const inputs = JSON.parse(m.mergelab_inputs);
    expect(inputs.map((i: { path: string }) => i.path)).toEqual([base.path, other.path]);
    expect(Object.keys(inputs[0].headers)).toEqual(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]);
    expect(inputs[1].headers["tiny-llama-f32.safetensors"]).toBe(other.files[0].sha256);
    expect(Object.values(m).every((v) => typeof v === "string")).toBe(true);
  });
});

describe("where the output can go", () => {
  it("a target whose parent is a file is refused with a MergelabError naming it", () => {
    fs.writeFileSync(path.join(dir, "file"), "x");
    const target = path.join(dir, "file", "out");
    expect(() => CheckpointWriter.create(target, tensors)).toThrow(new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: cannot create the output next to it`));
    expect(fs.readdirSync(dir)).toEqual(["file"]);
  });

  it("the committed directory is readable by others (not mkdtemp's 0700)", () => {
    const w = CheckpointWriter.create(path.join(dir, "out"), tensors);
    fill(w);
    w.commit();
    expect(fs.statSync(path.join(dir, "out")).mode & 0o777).toBe(0o755);
  });
});
