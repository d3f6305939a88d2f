// One test per malformed input: a clear MergelabError naming the file (and the
// tensor), raised from headers alone — no tensor data read, nothing left behind.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MergelabError } from "../../core/errors.js";
import { ioCounters, openCheckpoint } from "../../io/index.js";
import { fixtures, tempDir } from "../helpers.js";
import { copyFixture, listTree, rawSafetensors } from "./st-files.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Open `p`, expect a MergelabError matching every pattern, no data read, the directory unchanged. */
function expectRefused(p: string, ...patterns: RegExp[]): MergelabError {
  const before = { ...ioCounters };
  const tree = listTree(dir);
  let err: unknown;
  try {
    openCheckpoint(p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MergelabError);
  for (const re of patterns) expect((err as Error).message).toMatch(re);
  expect(ioCounters.dataReads).toBe(before.dataReads);
  expect(ioCounters.dataBytes).toBe(before.dataBytes);
  expect(listTree(dir)).toEqual(tree);
  return err as MergelabError;
}

const esc = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
const good = { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] };
function writeFile(name: string, buf: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, buf);
  return p;
}

describe("malformed safetensors headers", () => {
  it("header length past the end of the file", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ w: good }, new Uint8Array(16), 5000n));
    expectRefused(p, esc(p), /header length 5000 bytes runs past the end of the file/);
  });

  it("absurdly large header length", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ w: good }, new Uint8Array(16), 1n << 40n));
    expectRefused(p, esc(p), /absurdly large/);
  });

  it("header is not JSON", () => {
    const p = writeFile("a.safetensors", rawSafetensors('{"w": {"dtype": "F32",', new Uint8Array(16)));
    expectRefused(p, esc(p), /header is not valid JSON/);
  });

  it("header is JSON but not an object", () => {
    const p = writeFile("a.safetensors", rawSafetensors([1, 2, 3]));
    expectRefused(p, esc(p), /header is not a JSON object/);
  });

  it("unknown dtype", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ w: { ...good, dtype: "F8_E4M3X" } }, new Uint8Array(16)));
    const e = expectRefused(p, esc(p), /tensor 'w'/, /unknown dtype "F8_E4M3X"/);
    expect(e.details).toMatchObject({ file: p, tensor: "w" });
  });

  it("bad shape", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ w: { ...good, shape: [2, -2] } }, new Uint8Array(16)));
    expectRefused(p, esc(p), /tensor 'w'/, /bad shape \[2,-2\]/);
  });

  it("data_offsets out of range", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ w: { ...good, data_offsets: [8, 24] } }, new Uint8Array(16)));
    expectRefused(p, esc(p), /tensor 'w'/, /data_offsets \[8, 24\] out of range \(data buffer is 16 bytes\)/);
  });

  it("overlapping tensors", () => {
    const header = { a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [2], data_offsets: [8, 16] } };
    const p = writeFile("a.safetensors", rawSafetensors(header, new Uint8Array(16)));
    expectRefused(p, esc(p), /tensors 'a' and 'b' overlap/);
  });

  it("data_offsets not matching shape × dtype size", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ w: { dtype: "BF16", shape: [2, 2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    expectRefused(p, esc(p), /tensor 'w'/, /span 16 bytes but shape \[2,2\] × BF16 needs 8/);
  });

  it("__metadata__ with a non-string value", () => {
    const p = writeFile("a.safetensors", rawSafetensors({ __metadata__: { format: "pt", step: 3 }, w: good }, new Uint8Array(16)));
    expectRefused(p, esc(p), /__metadata__ entry 'step' is not a string/);
  });

  it("a truncated fixture (data cut off) is caught from its header", () => {
    const src = fs.readFileSync(path.join(fixtures, "tiny-llama-f32.safetensors"));
    const p = writeFile("cut.safetensors", src.subarray(0, src.length - 100));
    expectRefused(p, esc(p), /out of range/);
  });
});

describe("malformed sharded checkpoints", () => {
  const shard = (i: number) => `model-0000${i}-of-00003.safetensors`;
  let ckpt: string;
  let indexFile: string;
  beforeEach(() => {
    ckpt = copyFixture(path.join(fixtures, "tiny-llama-bf16-sharded"), dir);
    indexFile = path.join(ckpt, "model.safetensors.index.json");
  });
  const editIndex = (fn: (wm: Record<string, string>) => void) => {
    const index = JSON.parse(fs.readFileSync(indexFile, "utf8"));
    fn(index.weight_map);
    fs.writeFileSync(indexFile, JSON.stringify(index));
  };

  it("a missing shard", () => {
    fs.rmSync(path.join(ckpt, shard(2)));
    expectRefused(ckpt, esc(path.join(ckpt, shard(2))), /shard missing/, /tensor '[^']+'/);
  });

  it("the index names a tensor that is not in its shard", () => {
    editIndex((wm) => (wm["model.layers.9.mlp.down_proj.weight"] = shard(3)));
    expectRefused(ckpt, esc(path.join(ckpt, shard(3))), /names tensor 'model.layers.9.mlp.down_proj.weight' in this shard, but the shard has no such tensor/);
  });

  it("the index puts a tensor in the wrong shard", () => {
    const wm = JSON.parse(fs.readFileSync(indexFile, "utf8")).weight_map as Record<string, string>;
    const [name, where] = Object.entries(wm).find(([, s]) => s === shard(1))!;
    editIndex((m) => (m[name] = shard(2)));
    expectRefused(ckpt, esc(path.join(ckpt, where)), new RegExp(`tensor '${name.replace(/\./g, "\\.")}' is in this shard but model.safetensors.index.json puts it in ${shard(2)}`));
  });

  it("a tensor in a shard but not in the index", () => {
    const wm = JSON.parse(fs.readFileSync(indexFile, "utf8")).weight_map as Record<string, string>;
    const [name, where] = Object.entries(wm)[0];
    editIndex((m) => delete m[name]);
    expectRefused(ckpt, esc(path.join(ckpt, where)), new RegExp(`tensor '${name.replace(/\./g, "\\.")}' is in this shard but not in model.safetensors.index.json`));
  });

  it("an index that is not JSON", () => {
    fs.writeFileSync(indexFile, "{ not json");
    expectRefused(ckpt, esc(indexFile), /not valid JSON/);
  });

  it("an index pointing outside the directory", () => {
    editIndex((m) => (m["lm_head.weight"] = "../elsewhere.safetensors"));
    expectRefused(ckpt, esc(indexFile), /tensor 'lm_head.weight' maps to "..\/elsewhere.safetensors"/);
  });

  it("a malformed shard is named, not the directory", () => {
    const p = path.join(ckpt, shard(2));
    const buf = fs.readFileSync(p);
    buf.writeBigUInt64LE(1n << 33n, 0);
    fs.writeFileSync(p, buf);
    expectRefused(ckpt, esc(p), /absurdly large/);
  });
});

describe("pickled checkpoints are refused, saying why and what to do", () => {
  const why = /unpickling can execute arbitrary code/;
  const what = /Convert it to safetensors.*safe_serialization=True/;

  it.each(["pytorch_model.bin", "model.pt", "model.pth", "last.ckpt"])("%s", (name) => {
    const p = writeFile(name, Buffer.from("PK\x03\x04 pickled zip"));
    expectRefused(p, esc(p), /pickled PyTorch checkpoint refused/, why, what);
  });

  it("a directory holding only pickled weights", () => {
    const d = path.join(dir, "old-model");
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, "pytorch_model.bin"), "PK\x03\x04");
    fs.writeFileSync(path.join(d, "config.json"), "{}");
    expectRefused(d, esc(d), /only pickled PyTorch weights here \(pytorch_model.bin\)/, why, what);
  });

  it("a zip archive renamed to .safetensors", () => {
    const p = writeFile("model.safetensors", Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(60)]));
    expectRefused(p, esc(p), /zip archive/, why);
  });
});

describe("other refusals", () => {
  it("a path that does not exist", () => {
    const p = path.join(dir, "nope");
    expectRefused(p, esc(p), /no such checkpoint/);
  });

  it("a directory with several .safetensors files and no index", () => {
    fs.writeFileSync(path.join(dir, "a.safetensors"), rawSafetensors({ w: good }, new Uint8Array(16)));
    fs.writeFileSync(path.join(dir, "b.safetensors"), rawSafetensors({ w: good }, new Uint8Array(16)));
    expectRefused(dir, esc(dir), /2 .safetensors files but no model.safetensors.index.json/);
  });

  it("a directory without weights", () => {
    fs.writeFileSync(path.join(dir, "config.json"), "{}");
    expectRefused(dir, esc(dir), /no model weights/);
  });
});
