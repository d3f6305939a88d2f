/**
 * PEFT LoRA adapters as stored by `peft` (`save_pretrained`): a directory with
 * `adapter_config.json` and `adapter_model.safetensors`. Reads headers and the
 * config only; the model it describes is `base + scale · B·A` on each target
 * module, where (as peft's LoraLayer.update_layer computes it)
 *
 *   scale = lora_alpha / r            (use_rslora: lora_alpha / sqrt(r))
 *
 * with per-module r / alpha from `rank_pattern` / `alpha_pattern` (a key
 * matches a module name `m` when /^(.*\.)?(key)$/ matches `m`, the first key
 * wins — peft's get_pattern_key). Tensor names (peft's get_peft_model_state_dict):
 *
 *   base_model.model.<module>.lora_A.weight  [r, in]     linear (nn.Linear)
 *   base_model.model.<module>.lora_B.weight  [out, r]    delta = B·A, shape [out, in]
 *   base_model.model.<module>.lora_embedding_A  [r, vocab]   embedding
 *   base_model.model.<module>.lora_embedding_B  [dim, r]     delta = (B·A)ᵀ, shape [vocab, dim]
 *   fan_in_fan_out = true (GPT-2 Conv1D, weight stored [in, out]): delta = (B·A)ᵀ
 *   base_model.model.<module>.weight / .bias  (modules_to_save, bias="all"/"lora_only"): replaces the base tensor
 *
 * The base tensor of `<module>` is `<module>.weight`. `loraDeltaChunk` computes
 * any element range of a delta from A and B alone (A and B are r-thin), so a
 * merge never materialises a full delta.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { openCheckpoint, type Checkpoint } from "./checkpoint.js";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";

export interface LoraModule {
  /** Module path, e.g. model.layers.0.self_attn.q_proj */
  module: string;
  /** Base tensor the delta adds to: `${module}.weight`. */
  target: string;
  /** Adapter tensor names (as stored in adapter_model.safetensors). */
  a: string;
  b: string;
  kind: "linear" | "embedding";
  r: number;
  alpha: number;
  /** alpha / r, or alpha / sqrt(r) with use_rslora. */
  scale: number;
  /** The delta is (B·A)ᵀ: embeddings and fan_in_fan_out (Conv1D) layers. */
  transposed: boolean;
  /** Shape of the delta (= the target's shape). */
  shape: [number, number];
}

export interface LoraAdapter {
  dir: string;
  /** The adapter's checkpoint (headers validated; A/B tensors read on demand). */
  checkpoint: Checkpoint;
  config: Record<string, unknown>;
  /** adapter_config.json's base_model_name_or_path, when given. */
  baseModel?: string;
  useRslora: boolean;
  /** By target tensor name. */
  modules: Map<string, LoraModule>;
  /** Base tensors the adapter replaces outright (modules_to_save, trained biases): target name → adapter tensor name. */
  replaced: Map<string, string>;
}

/** A directory is a PEFT adapter when it has adapter_config.json (weights are checked on open). */
export function isLoraAdapterDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && fs.existsSync(path.join(dir, ADAPTER_CONFIG));
  } catch {
    return false;
  }
}

/** peft's get_pattern_key: the first pattern key k with /^(.*\.)?(k)$/ matching the module name. */
export function patternKey(keys: readonly string[], module: string): string | undefined {
  for (const k of keys) {
    let re: RegExp;
    try {
      re = new RegExp(`^(.*\\.)?(${k})$`);
    } catch {
      continue;
    }
    if (re.test(module)) return k;
  }
  return undefined;
}

const PREFIXES = ["base_model.model.", "base_model."];
const LINEAR = /^(.+)\.lora_(A|B)(?:\.[A-Za-z0-9_-]+)?\.weight$/;
const EMBEDDING = /^(.+)\.lora_embedding_(A|B)(?:\.[A-Za-z0-9_-]+)?$/;

function stripPrefix(name: string): string {
  for (const p of PREFIXES) if (name.startsWith(p)) return name.slice(p.length);
  return name;
}

/** Open a PEFT LoRA adapter directory: config and headers, everything checked; no tensor data read. */
export function openLoraAdapter(dirIn: string): LoraAdapter {
  const dir = path.resolve(dirIn);
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  const fail = (msg: string, tensor?: string) => new MergelabError(`${dir}: ${msg}`, { file: dir, ...(tensor ? { tensor } : {}) });
  if (!fs.existsSync(cfgFile)) throw fail(`not a PEFT adapter (no ${ADAPTER_CONFIG})`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(fs.readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new MergelabError(`${cfgFile}: not valid JSON (${(e as Error).message})`, { file: cfgFile });
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) throw new MergelabError(`${cfgFile}: not a JSON object`, { file: cfgFile });
  const peftType = config.peft_type ?? "LORA";
  if (peftType !== "LORA") throw fail(`a ${String(peftType)} adapter; only LoRA adapters (peft_type "LORA") are supported`);
  if (config.use_dora === true) throw fail("a DoRA adapter (use_dora: true); only plain LoRA is supported (DoRA rescales the merged weight by a magnitude vector)");
  const num = (k: string, dflt?: number): number => {
    const v = config[k] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new MergelabError(`${cfgFile}: "${k}" must be a positive number (got ${JSON.stringify(config[k])})`, { file: cfgFile });
    return v;
  };
  const r0 = num("r", 8);
  const alpha0 = num("lora_alpha", 8);
  const useRslora = config.use_rslora === true;
  const fanInFanOut = config.fan_in_fan_out === true;
  const patterns = (k: string): Record<string, number> => {
    const v = config[k];
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "number" || !(x > 0))) {
      throw new MergelabError(`${cfgFile}: "${k}" must map module patterns to positive numbers`, { file: cfgFile });
    }
    return v as Record<string, number>;
  };
  const rankPattern = patterns("rank_pattern");
  const alphaPattern = patterns("alpha_pattern");

  let weightsFile = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(weightsFile)) {
    const pickled = ["adapter_model.bin", "adapter_model.pt"].find((f) => fs.existsSync(path.join(dir, f)));
    if (pickled) throw fail(`adapter weights only as a pickle (${pickled}), refused; save the adapter with safetensors (peft's default)`);
    throw fail(`no ${ADAPTER_WEIGHTS}`);
  }
  weightsFile = fs.realpathSync(weightsFile);
  const checkpoint = openCheckpoint(weightsFile);

  const parts = new Map<string, { a?: string; b?: string; kind: "linear" | "embedding" }>();
  const replaced = new Map<string, string>();
  for (const t of checkpoint.tensors) {
    const name = stripPrefix(t.name);
    const lin = LINEAR.exec(name);
    const emb = lin ? null : EMBEDDING.exec(name);
    const m = lin ?? emb;
    if (m) {
      const kind = lin ? "linear" : "embedding";
      const p = parts.get(m[1]) ?? { kind };
      if (p.kind !== kind) throw fail(`module '${m[1]}' has both linear and embedding LoRA tensors`, t.name);
      if (t.shape.length !== 2) throw fail(`LoRA tensor '${t.name}' has shape [${t.shape}], expected a matrix`, t.name);
      if (m[2] === "A") {
        if (p.a) throw fail(`two lora_A tensors for module '${m[1]}'`, t.name);
        p.a = t.name;
      } else {
        if (p.b) throw fail(`two lora_B tensors for module '${m[1]}'`, t.name);
        p.b = t.name;
      }
      parts.set(m[1], p);
    } else if (/\.lora_magnitude_vector/.test(name)) {
      throw fail(`DoRA tensor '${t.name}'; only plain LoRA is supported`, t.name);
    } else if (/\.(weight|bias)$/.test(name) && !/\.lora_/.test(name)) {
      replaced.set(name.replace(/\.modules_to_save\.[A-Za-z0-9_-]+\./, "."), t.name);
    } else {
      throw fail(`tensor '${t.name}' is not a LoRA A/B matrix nor a saved module`, t.name);
    }
  }

  const modules = new Map<string, LoraModule>();
  for (const [module, p] of parts) {
    if (!p.a || !p.b) throw fail(`module '${module}' has lora_${p.a ? "A" : "B"} but no lora_${p.a ? "B" : "A"}`, p.a ?? p.b);
    const A = checkpoint.tensor(p.a).shape;
    const B = checkpoint.tensor(p.b).shape;
    const r = A[0];
    if (B[1] !== r) throw fail(`module '${module}': lora_A is [${A}] and lora_B is [${B}]; their ranks differ`, p.b);
    const rk = patternKey(Object.keys(rankPattern), module);
    const rConfig = rk !== undefined ? rankPattern[rk] : r0;
    if (rConfig !== r) throw fail(`module '${module}': rank ${r} in the weights, ${rConfig} in ${ADAPTER_CONFIG}`, p.a);
    const ak = patternKey(Object.keys(alphaPattern), module);
    const alpha = ak !== undefined ? alphaPattern[ak] : alpha0;
    const scale = useRslora ? alpha / Math.sqrt(r) : alpha / r;
    const transposed = p.kind === "embedding" || fanInFanOut;
    // linear: B·A is [out, in]; embedding: A is [r, vocab], B is [dim, r], delta (B·A)ᵀ is [vocab, dim]
    const shape: [number, number] = transposed ? [A[1], B[0]] : [B[0], A[1]];
    const target = `${module}.weight`;
    if (replaced.has(target)) throw fail(`module '${module}' has both LoRA matrices and a saved full weight`, p.a);
    modules.set(target, { module, target, a: p.a, b: p.b, kind: p.kind, r, alpha, scale, transposed, shape });
  }
  if (modules.size === 0 && replaced.size === 0) throw fail(`${ADAPTER_WEIGHTS} holds no LoRA tensors`);
  const baseModel = typeof config.base_model_name_or_path === "string" && config.base_model_name_or_path ? config.base_model_name_or_path : undefined;
  return { dir, checkpoint, config, baseModel, useRslora, modules, replaced };
}

/**
 * Check an adapter against its base's tensors (name → shape): every target exists
 * with the delta's shape; every replaced tensor exists with the same shape.
 */
export function checkAdapterAgainstBase(adapter: LoraAdapter, base: ReadonlyMap<string, { shape: readonly number[] }>, baseLabel: string, adapterLabel = adapter.dir): void {
  const where = `${adapterLabel} (LoRA adapter) on ${baseLabel}`;
  for (const m of adapter.modules.values()) {
    const t = base.get(m.target);
    if (!t) throw new MergelabError(`${where}: the adapter targets '${m.target}', which the base model does not have`, { file: adapter.dir, tensor: m.target });
    if (t.shape.length !== 2 || t.shape[0] !== m.shape[0] || t.shape[1] !== m.shape[1]) {
      throw new MergelabError(`${where}: '${m.target}' is [${t.shape.join(", ")}] in the base, the adapter's delta is [${m.shape.join(", ")}]`, { file: adapter.dir, tensor: m.target });
    }
  }
  for (const [target, src] of adapter.replaced) {
    const t = base.get(target);
    const s = adapter.checkpoint.tensor(src).shape;
    if (!t) throw new MergelabError(`${where}: the adapter saves '${target}', which the base model does not have`, { file: adapter.dir, tensor: target });
    if (t.shape.length !== s.length || t.shape.some((d, i) => d !== s[i])) {
      throw new MergelabError(`${where}: '${target}' is [${t.shape.join(", ")}] in the base, [${s.join(", ")}] in the adapter`, { file: adapter.dir, tensor: target });
    }
  }
}

/** A module's A and B as float32 (they are r-thin: r·(in + out) elements). */
export function readLoraFactors(adapter: LoraAdapter, m: LoraModule): { A: Float32Array; B: Float32Array } {
  const c = adapter.checkpoint;
  return { A: c.readF32(m.a, 0, c.tensor(m.a).numel), B: c.readF32(m.b, 0, c.tensor(m.b).numel) };
}

/**
 * Elements [start, start + count) (row-major over `m.shape`) of scale·B·A
 * (or scale·(B·A)ᵀ when `m.transposed`), written to `out`. Each element sums its
 * r products in float64, rounds the sum to float32 (as a float32 matmul would to
 * within rounding), then multiplies by the scale in float32.
 */
export function loraDeltaChunk(m: LoraModule, A: Float32Array, B: Float32Array, start: number, count: number, out: Float32Array): Float32Array {
  const [rows, cols] = m.shape;
  const r = m.r;
  if (start < 0 || start + count > rows * cols) throw new RangeError(`LoRA delta '${m.target}': elements [${start}, ${start + count}) out of range (${rows * cols})`);
  const scale = Math.fround(m.scale);
  let i = Math.floor(start / cols);
  let j = start - i * cols;
  for (let e = 0; e < count; e++) {
    let s = 0;
    if (!m.transposed) {
      // delta[i, j] = Σ_k B[i, k] · A[k, j];  B: [rows, r], A: [r, cols]
      const bo = i * r;
      for (let k = 0; k < r; k++) s += B[bo + k] * A[k * cols + j];
    } else {
      // delta[i, j] = (B·A)[j, i] = Σ_k B[j, k] · A[k, i];  B: [cols, r], A: [r, rows]
      const bo = j * r;
      for (let k = 0; k < r; k++) s += B[bo + k] * A[k * rows + i];
    }
    out[e] = Math.fround(Math.fround(s) * scale);
    if (++j === cols) {
      j = 0;
      i++;
    }
  }
  return out;
}
