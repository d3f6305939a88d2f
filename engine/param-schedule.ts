/**
 * Schedules: a scalar parameter that varies per tensor (mergekit's "gradient"
 * and filter lists). `layers([v0, …, vk])` interpolates linearly over the
 * layer index found in the tensor name; `match({substr: v}, default)` takes
 * the first key that is a substring of the name. Methods resolve every scalar
 * parameter per tensor with `resolveParam(value, t)`.
 */
import { MergelabError } from "../core/errors.js";
import type { MimeBundle } from "../core/values.js";

/** What a method knows about the output tensor it is computing. */
export interface TensorContext {
  name: string;
  shape: readonly number[];
  numel: number;
  /** Layer index from the name (`layers.N.`, `layer.N.`, `h.N.`, `blocks.N.`), undefined outside the layer stack. */
  layer: number | undefined;
  /** Number of layers of the model (max layer index + 1; 0 when no tensor has one). */
  numLayers: number;
}

/**
 * A layer of the stack: `model.layers.N.` (Llama, Mistral, Qwen2…), `transformer.h.N.` (GPT-2),
 * `encoder.layer.N.` (BERT, RoBERTa), `transformer.blocks.N.` (MPT). Groups: prefix, index, dot.
 */
export const LAYER_RE = /((?:^|\.)(?:layers|layer|h|blocks)\.)(\d+)(\.)/;

/** `name` with its layer index replaced by `layer`. */
export const renumberLayer = (name: string, layer: number): string => name.replace(LAYER_RE, (_, pre: string, _n: string, post: string) => `${pre}${layer}${post}`);

/** Layer index in a tensor name, or undefined (embeddings, final norm, lm_head). */
export function layerIndex(name: string): number | undefined {
  const m = LAYER_RE.exec(name);
  return m ? Number(m[2]) : undefined;
}

/** Number of layers implied by a set of tensor names. */
export function countLayers(names: Iterable<string>): number {
  let max = -1;
  for (const n of names) {
    const l = layerIndex(n);
    if (l !== undefined && l > max) max = l;
  }
  return max + 1;
}

export function tensorContext(name: string, shape: readonly number[], numLayers: number): TensorContext {
  return { name, shape, numel: shape.reduce((a, b) => a * b, 1), layer: layerIndex(name), numLayers };
}

export abstract class Schedule {
  /** The value for one tensor. */
  abstract at(t: TensorContext): number;
  /** Source-like text: `layers([0, 0.5, 1])`. */
  abstract describe(): string;
  toString(): string {
    return this.describe();
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.describe() };
  }
}

/**
 * layers([v0, …, vk]): mergekit's gradient. Layer l of L takes the linear interpolation at
 * x = l/(L−1)·k; a stack of one layer takes the last value (mergekit's t = 1); every tensor outside
 * the layer stack (embeddings, final norm, lm_head, pooler) takes the first value (mergekit's t = 0,
 * since v0.1.2).
 */
export class LayerSchedule extends Schedule {
  constructor(readonly values: readonly number[]) {
    super();
    if (values.length === 0) throw new MergelabError("layers() needs at least one value");
    for (const v of values) {
      if (typeof v !== "number" || Number.isNaN(v)) throw new MergelabError(`layers(): values must be numbers, got ${String(v)}`);
    }
  }
  at(t: TensorContext): number {
    const v = this.values;
    const k = v.length - 1;
    if (t.layer === undefined || k === 0) return v[0];
    if (t.numLayers <= 1) return v[k];
    const x = Math.min(Math.max(t.layer / (t.numLayers - 1), 0), 1) * k;
    const i = Math.min(Math.floor(x), k - 1);
    const f = x - i;
    return v[i] + (v[i + 1] - v[i]) * f;
  }
  describe(): string {
    return `layers([${this.values.join(", ")}])`;
  }
}

/** match({substr: v, …}, default): the first key contained in the tensor name wins (mergekit's filter rule). */
export class MatchSchedule extends Schedule {
  constructor(
    readonly entries: ReadonlyArray<readonly [string, number | Schedule]>,
    readonly fallback: number | Schedule,
  ) {
    super();
  }
  at(t: TensorContext): number {
    for (const [key, v] of this.entries) if (t.name.includes(key)) return resolveParam(v, t);
    return resolveParam(this.fallback, t);
  }
  describe(): string {
    const body = this.entries.map(([k, v]) => `${JSON.stringify(k)}: ${String(v)}`).join(", ");
    return `match({${body}}, default=${String(this.fallback)})`;
  }
}

export function layers(values: readonly number[]): LayerSchedule {
  return new LayerSchedule([...values]);
}

export function match(table: Record<string, number | Schedule> | ReadonlyMap<string, number | Schedule>, fallback: number | Schedule): MatchSchedule {
  const entries = table instanceof Map ? [...table.entries()] : Object.entries(table);
  return new MatchSchedule(entries, fallback);
}

export const isSchedule = (v: unknown): v is Schedule => v instanceof Schedule;

/** A number, or a schedule resolved for tensor `t`. */
export function resolveParam(value: number | Schedule, t: TensorContext): number {
  return typeof value === "number" ? value : value.at(t);
}
