/**
 * A scratch directory laid out like a merge experiment, made from the shared
 * fixtures (copied: they are read-only) plus two small hand-written
 * safetensors files that are incompatible with them (a changed shape, a
 * missing tensor).
 */
import fs from "node:fs";
import path from "node:path";
import { fixtures, tempDir } from "../helpers.js";

/** The tiny-llama tensors: name → shape. */
export const TINY_LLAMA: Record<string, number[]> = {
  "lm_head.weight": [32, 8],
  "model.embed_tokens.weight": [32, 8],
  "model.layers.0.input_layernorm.weight": [8],
  "model.layers.0.mlp.up_proj.weight": [12, 8],
  "model.layers.0.self_attn.q_proj.weight": [8, 8],
  "model.layers.1.input_layernorm.weight": [8],
  "model.layers.1.mlp.up_proj.weight": [12, 8],
  "model.layers.1.self_attn.q_proj.weight": [8, 8],
  "model.norm.weight": [8],
};

/** A minimal F32 safetensors writer (independent of io), values i/1000. */
export function writeF32Safetensors(file: string, tensors: Record<string, number[]>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const n = tensors[name]!.reduce((a, b) => a * b, 1);
    header[name] = { dtype: "F32", shape: tensors[name], data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const data = new Float32Array(offset / 4).map((_, i) => (i % 997) / 1000);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), Buffer.from(data.buffer)]));
}

export function makeWorkspace(): string {
  const dir = tempDir("mergelab-dsl-");
  fs.mkdirSync(path.join(dir, "models/experts"), { recursive: true });
  fs.cpSync(path.join(fixtures, "tiny-llama-f16"), path.join(dir, "models/base"), { recursive: true });
  fs.cpSync(path.join(fixtures, "tiny-llama-bf16-sharded"), path.join(dir, "models/experts/a"), { recursive: true });
  fs.copyFileSync(path.join(fixtures, "tiny-llama-f32.safetensors"), path.join(dir, "models/experts/b.safetensors"));
  fs.copyFileSync(path.join(fixtures, "mixed-int-buffer.safetensors"), path.join(dir, "models/mixed.safetensors"));
  writeF32Safetensors(path.join(dir, "models/wrong-shape.safetensors"), { ...TINY_LLAMA, "model.layers.1.mlp.up_proj.weight": [16, 8] });
  const missing = { ...TINY_LLAMA };
  delete missing["model.norm.weight"];
  writeF32Safetensors(path.join(dir, "models/missing-norm.safetensors"), missing);
  return dir;
}
