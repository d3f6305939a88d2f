/** Test helpers for the CLI tests: fixture workspaces and tensor-by-tensor comparison of outputs. */
import fs from "node:fs";
import path from "node:path";
import { openCheckpoint } from "../../io/checkpoint.js";
import { fixtures, tempDir } from "../helpers.js";

/**
 * A temp directory with models/bf16 (sharded), models/f16 and
 * models/f32.safetensors: the three tiny-llama fixtures, same shapes.
 */
export function fixtureWorkspace(prefix = "mergelab-cli-"): string {
  const dir = tempDir(prefix);
  const models = path.join(dir, "models");
  fs.mkdirSync(models);
  fs.cpSync(path.join(fixtures, "tiny-llama-bf16-sharded"), path.join(models, "bf16"), { recursive: true });
  fs.cpSync(path.join(fixtures, "tiny-llama-f16"), path.join(models, "f16"), { recursive: true });
  fs.copyFileSync(path.join(fixtures, "tiny-llama-f32.safetensors"), path.join(models, "f32.safetensors"));
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) fs.chmodSync(path.join(dir, f), 0o755);
  return dir;
}

export interface RawTensor {
  dtype: string;
  shape: number[];
  raw: Buffer;
}

/** Every tensor of a checkpoint (directory or file): dtype, shape and raw bytes. */
export function readTensors(p: string): Map<string, RawTensor> {
  const c = openCheckpoint(p);
  try {
    const out = new Map<string, RawTensor>();
    for (const t of c.tensors) out.set(t.name, { dtype: t.dtype, shape: [...t.shape], raw: Buffer.from(c.readRaw(t.name, 0, t.byteLength)) });
    return out;
  } finally {
    c.close();
  }
}

/** Names of tensors that differ (dtype, shape or any byte), plus names present in only one. */
export function tensorDifferences(a: Map<string, RawTensor>, b: Map<string, RawTensor>): string[] {
  const diff: string[] = [];
  for (const [name, ta] of a) {
    const tb = b.get(name);
    if (!tb || ta.dtype !== tb.dtype || ta.shape.join() !== tb.shape.join() || !ta.raw.equals(tb.raw)) diff.push(name);
  }
  for (const name of b.keys()) if (!a.has(name)) diff.push(name);
  return diff;
}

/** Decoded float values of one tensor (F32, F16, BF16). */
export function floats(p: string, name: string): Float32Array {
  const c = openCheckpoint(p);
  try {
    const t = c.tensor(name);
    return c.readF32(name, 0, t.numel);
  } finally {
    c.close();
  }
}
