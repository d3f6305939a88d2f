/**
 * Computed plan sources: inputs whose element ranges are computed on read from
 * small data rather than read from a file — a LoRA delta scale·B·A (from the
 * r-thin A and B), the rows of an embedding re-indexed to another vocabulary
 * (from the rows of the input embeddings). They cross to worker threads as plain
 * descriptions and are reopened there by `openComputed`, like checkpoints.
 * Every read is a pure function of (tensor, element range): chunking and worker
 * count never change the bits.
 */
import { Checkpoint, type CheckpointDescription } from "../io/index.js";
import { loraDeltaChunk, type LoraModule } from "../io/lora.js";
import { fillRows, type RowSource } from "../io/vocab.js";
import type { TensorMeta } from "./model.js";

export type ComputedDescription =
  | { kind: "computed"; type: "lora"; label: string; adapter: CheckpointDescription; modules: LoraModule[] }
  | {
      kind: "computed";
      type: "rows";
      label: string;
      /** Output tensor name → its row plan. */
      tensors: Record<string, { dim: number; vocab: number; sources: RowSource[]; inputs: Array<{ checkpoint: CheckpointDescription; tensor: string }> }>;
    };

/** A plan source computed on read (see the file comment). */
export class ComputedSource {
  readonly kind = "computed";
  constructor(
    readonly label: string,
    private readonly metas: ReadonlyMap<string, TensorMeta>,
    private readonly description: () => ComputedDescription,
    /** Checkpoints it reads (provenance). */
    readonly reads: readonly Checkpoint[],
  ) {}
  meta(tensor: string): TensorMeta | undefined {
    return this.metas.get(tensor);
  }
  describe(): ComputedDescription {
    return this.description();
  }
}

export interface ComputedReader {
  /** Elements [start, start + count) of `tensor`, float32, into `out`. */
  readF32(tensor: string, start: number, count: number, out: Float32Array): Float32Array;
  close(): void;
}

export function openComputed(d: ComputedDescription): ComputedReader {
  if (d.type === "lora") {
    const ckpt = Checkpoint.fromDescription(d.adapter);
    const modules = new Map(d.modules.map((m) => [m.target, m]));
    const factors = new Map<string, { A: Float32Array; B: Float32Array }>();
    return {
      readF32(tensor, start, count, out) {
        const m = modules.get(tensor);
        if (!m) throw new Error(`LoRA source ${d.label}: no delta for '${tensor}'`);
        let f = factors.get(tensor);
        if (!f) {
          f = { A: ckpt.readF32(m.a, 0, ckpt.tensor(m.a).numel), B: ckpt.readF32(m.b, 0, ckpt.tensor(m.b).numel) };
          factors.set(tensor, f);
        }
        return loraDeltaChunk(m, f.A, f.B, start, count, out);
      },
      close: () => ckpt.close(),
    };
  }
  const opened = new Map<string, Checkpoint>();
  const ckptOf = (c: CheckpointDescription) => {
    let k = opened.get(c.path);
    if (!k) opened.set(c.path, (k = Checkpoint.fromDescription(c)));
    return k;
  };
  const pads = new Map<string, Float32Array>();
  return {
    readF32(tensor, start, count, out) {
      const t = d.tensors[tensor];
      if (!t) throw new Error(`re-indexed source ${d.label}: no tensor '${tensor}'`);
      const { dim, vocab, sources, inputs } = t;
      const readRow = (model: number, row: number) => ckptOf(inputs[model].checkpoint).readF32(inputs[model].tensor, row * dim, dim);
      const padRow = () => {
        let p = pads.get(tensor);
        if (!p) {
          // the mean of rows [0, vocab) of this re-indexed matrix, summed in float64 in row order
          const acc = new Float64Array(dim);
          const row = new Float32Array(dim);
          for (let r = 0; r < vocab; r++) {
            fillRows(sources, dim, r, r + 1, readRow, () => row, row);
            for (let j = 0; j < dim; j++) acc[j] += row[j];
          }
          p = Float32Array.from(acc, (s) => Math.fround(s / vocab));
          pads.set(tensor, p);
        }
        return p;
      };
      const r0 = Math.floor(start / dim);
      const r1 = Math.ceil((start + count) / dim);
      const rows = new Float32Array((r1 - r0) * dim);
      fillRows(sources, dim, r0, r1, readRow, padRow, rows);
      out.set(rows.subarray(start - r0 * dim, start - r0 * dim + count));
      return out.subarray(0, count);
    },
    close: () => {
      for (const c of opened.values()) c.close();
    },
  };
}
