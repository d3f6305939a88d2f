// Test helpers: PEFT LoRA adapters in peft's save_pretrained layout, written byte by byte (F32 safetensors),
// and the dense reference B·A in float64.
import fs from "node:fs";
import path from "node:path";
import { rng } from "../helpers.js";
import { rawSafetensors } from "./st-files.js";

export type T = { shape: number[]; data: Float32Array };

export function writeF32(file: string, tensors: Record<string, T>): void {
  const header: Record<string, unknown> = {};
  let pos = 0;
  const bufs: Buffer[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [pos, pos + b.length] };
    bufs.push(b);
    pos += b.length;
  }
  fs.writeFileSync(file, rawSafetensors(header, Buffer.concat(bufs)));
}

export function randn(next: () => number, shape: number[], amp = 1): T {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * amp;
  return { shape, data };
}

/** dense[i, j] = Σ_k B[i, k] A[k, j] in float64 (the reference), optionally transposed. */
export function denseBA(A: T, B: T, transposed: boolean): Float64Array {
  const [r, cols] = A.shape;
  const rows = B.shape[0];
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let k = 0; k < r; k++) s += B.data[i * r + k] * A.data[k * cols + j];
    if (transposed) out[j * rows + i] = s;
    else out[i * cols + j] = s;
  }
  return out;
}

export const V = 11, D = 6, F = 9;

export function build(dir: string, config: Record<string, unknown>, seed = 7) {
  const next = rng(seed);
  const base: Record<string, T> = {
    "lm_head.weight": randn(next, [V, D]),
    "model.embed_tokens.weight": randn(next, [V, D]),
    "model.layers.0.mlp.up_proj.weight": randn(next, [F, D]),
    "model.layers.0.self_attn.q_proj.weight": randn(next, [D, D]),
    "model.layers.1.mlp.up_proj.weight": randn(next, [F, D]),
  };
  const adapter: Record<string, T> = {
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": randn(next, [2, D]),
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": randn(next, [D, 2]),
    "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight": randn(next, [4, D]),
    "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight": randn(next, [F, 4]),
    "base_model.model.model.layers.1.mlp.up_proj.lora_A.weight": randn(next, [2, D]),
    "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight": randn(next, [F, 2]),
    "base_model.model.model.embed_tokens.lora_embedding_A": randn(next, [2, V]),
    "base_model.model.model.embed_tokens.lora_embedding_B": randn(next, [D, 2]),
    "base_model.model.lm_head.weight": randn(next, [V, D]),
  };
  fs.mkdirSync(path.join(dir, "base"), { recursive: true });
  fs.mkdirSync(path.join(dir, "adapter"), { recursive: true });
  writeF32(path.join(dir, "base", "model.safetensors"), base);
  writeF32(path.join(dir, "adapter", "adapter_model.safetensors"), adapter);
  fs.writeFileSync(path.join(dir, "adapter", "adapter_config.json"), JSON.stringify({
    peft_type: "LORA", base_model_name_or_path: "org/base", r: 2, lora_alpha: 16, use_rslora: false, fan_in_fan_out: false,
    target_modules: ["q_proj", "up_proj", "embed_tokens"], modules_to_save: ["lm_head"],
    rank_pattern: { "layers.0.mlp.up_proj": 4 }, alpha_pattern: { "layers.0.mlp.up_proj": 8 }, ...config,
  }));
  return { base, adapter };
}

