// Shared helpers for the engine tests: seeded randomness, writing real safetensors with io, reference evaluation.
import { CheckpointWriter } from "../../io/index.js";
import { encodeFromF32, decodeToF32, type DType } from "../../io/index.js";
import { openCheckpoint } from "../../io/index.js";
import { evaluateNaive, Graph, inputKey, type Node } from "../../engine/ir.js";
import { CheckpointSource, MemorySource, type ModelValue } from "../../engine/model.js";
import { rng } from "../helpers.js";

export { rng };

export interface TestTensor {
  dtype: DType;
  shape: number[];
  values: Float32Array;
}

/** Write tensors as a checkpoint directory with io's writer; values are rounded to the dtype. */
export function writeCheckpoint(dir: string, tensors: Record<string, TestTensor>, extraFiles?: Record<string, string>): void {
  const w = CheckpointWriter.create(
    dir,
    Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    { fsync: false, extraFiles },
  );
  for (const [name, t] of Object.entries(tensors)) w.writeF32(name, 0, t.values);
  w.commit();
}

/** Values as stored in `dtype` and decoded back (what the engine reads). */
export function roundTo(dtype: DType, values: Float32Array): Float32Array {
  const size = dtype === "F32" ? 4 : 2;
  const bytes = new Uint8Array(values.length * size);
  encodeFromF32(dtype, values, bytes);
  const out = new Float32Array(values.length);
  decodeToF32(dtype, bytes, values.length, out);
  return out;
}

/** The reference: evaluateNaive on tensor `name` of `model`, inputs decoded by io. */
export function reference(model: ModelValue, name: string, modelStats?: Map<string, number>): Float32Array | number {
  const g = new Graph();
  const root: Node = model.recipe(g, name);
  const shape = model.tensors.get(name)!.shape;
  const numel = shape.reduce((a, b) => a * b, 1);
  return evaluateNaive(root, { tensor: name, numel, shape, inputs: referenceInputs(g, root), modelStats }) as Float32Array | number;
}

export function referenceInputs(g: Graph, root: Node): Map<string, Float32Array> {
  const inputs = new Map<string, Float32Array>();
  const visit = (n: Node) => {
    if (n.op === "input") {
      const { model, tensor } = n.arg as { model: number; tensor: string };
      const src = g.sources[model] as CheckpointSource | MemorySource;
      let data: Float32Array;
      if (src instanceof CheckpointSource) {
        const c = openCheckpoint(src.checkpoint.path);
        data = c.readF32(tensor, 0, c.tensor(tensor).numel);
        c.close();
      } else data = src.tensors.get(tensor)!.data as Float32Array;
      inputs.set(inputKey(model, tensor), data);
    }
    n.src.forEach(visit);
  };
  visit(root);
  return inputs;
}

/** Bitwise equality of float32 arrays, all NaNs equal (payloads are not part of the contract); returns the first mismatch. */
export function firstMismatch(a: Float32Array, b: Float32Array): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ub[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    return `element ${i}: ${a[i]} (0x${ua[i].toString(16)}) vs ${b[i]} (0x${ub[i].toString(16)})`;
  }
  return undefined;
}

export const sameScalar = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
