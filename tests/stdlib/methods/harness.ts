/** Shared test harness: write random checkpoints, run a method by name, read results as float64. */
import path from "node:path";
import { loadModel, modelFromArrays, type ModelValue, type MemoryTensor } from "../../../engine/index.js";
import { materializeArrays, type ExecOptions } from "../../../engine/exec/index.js";
import { invoke } from "../../../stdlib/methods/define.js";
import { specs as methodSpecs } from "../../../stdlib/methods/index.js";
import { specs as blockSpecs } from "../../../stdlib/blocks.js";
import { specs as analysisSpecs } from "../../../stdlib/analysis.js";
import type { Value } from "../../../core/values.js";
import { tempDir } from "../../helpers.js";
import { randomModel, writeSafetensors, type TestDType, type TestTensor } from "./st.js";

export interface Fixture {
  dtype: TestDType;
  dir: string;
  base: Record<string, TestTensor>;
  experts: Record<string, TestTensor>[];
  baseModel: ModelValue;
  expertModels: ModelValue[];
}

/** Base + `count` experts (base + noise of scale `spread`) written as real .safetensors files. */
export function makeFixture(dtype: TestDType, count = 3, seed = 1, spread = 0.3): Fixture {
  const dir = tempDir(`mergelab-methods-${dtype}-`);
  const base = randomModel(seed, dtype);
  const centers = Object.fromEntries(Object.entries(base).map(([k, t]) => [k, t.values]));
  const experts = Array.from({ length: count }, (_, i) => randomModel(seed * 100 + i + 1, dtype, centers, spread));
  writeSafetensors(path.join(dir, "base.safetensors"), base, dtype);
  experts.forEach((e, i) => writeSafetensors(path.join(dir, `expert${i}.safetensors`), e, dtype));
  return {
    dtype, dir, base, experts,
    baseModel: loadModel(path.join(dir, "base.safetensors")),
    expertModels: experts.map((_, i) => loadModel(path.join(dir, `expert${i}.safetensors`))),
  };
}

/** Run a registered function by name with named arguments (aliases and defaults as in the language). */
const mine = [...methodSpecs, ...blockSpecs, ...analysisSpecs];
export const lookup = (name: string) => mine.find((s) => s.name === name || s.aliases?.includes(name));

export function run(name: string, args: Record<string, Value | undefined>): ModelValue {
  const spec = lookup(name);
  if (!spec) throw new Error(`no function ${name}`);
  return invoke(spec, args) as ModelValue;
}

/** Compute a model in memory: float tensors as float64 copies of the float32 results. */
export async function compute(model: ModelValue, opts: ExecOptions = {}): Promise<Record<string, Float64Array>> {
  const arrays = await materializeArrays(model, opts);
  const out: Record<string, Float64Array> = {};
  for (const [name, t] of Object.entries(arrays)) if (t.data instanceof Float32Array) out[name] = Float64Array.from(t.data);
  return out;
}

/** Raw float32 results (for bitwise comparisons). */
export async function computeF32(model: ModelValue, opts: ExecOptions = {}): Promise<Record<string, Float32Array>> {
  const arrays = await materializeArrays(model, opts);
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(arrays)) if (t.data instanceof Float32Array) out[name] = t.data;
  return out;
}

/** Largest violation of |a − b| ≤ tol·(1 + |b|), with where it happened (0 when within). */
export function worstError(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): { excess: number; at: number; got: number; want: number } {
  let worst = { excess: 0, at: -1, got: 0, want: 0 };
  if (a.length !== b.length) return { excess: Infinity, at: -1, got: a.length, want: b.length };
  for (let j = 0; j < a.length; j++) {
    const same = Object.is(a[j], b[j]) || (Number.isNaN(a[j]) && Number.isNaN(b[j]));
    const err = same ? 0 : Math.abs(a[j] - b[j]) / (1 + Math.abs(b[j]));
    const excess = Number.isNaN(err) ? Infinity : err - tol;
    if (excess > worst.excess) worst = { excess, at: j, got: a[j], want: b[j] };
  }
  return worst;
}

/** A small in-memory F32 model (hand-computed cases). */
export function tiny(tensors: Record<string, number[]>, label: string): ModelValue {
  const store = new Map<string, MemoryTensor>();
  for (const [name, v] of Object.entries(tensors)) store.set(name, { shape: [v.length], dtype: "F32", data: Float32Array.from(v) });
  return modelFromArrays(store, label);
}

export const values = (f: Fixture, which: number | "base", name: string): Float64Array =>
  which === "base" ? f.base[name].values : f.experts[which][name].values;
