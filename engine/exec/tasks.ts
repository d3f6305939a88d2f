/**
 * The task protocol between the scheduler (main thread) and a runner (a
 * worker thread, or the main thread itself for small plans). Everything here
 * is plain, structured-cloneable data. A runner holds the opened sources, the
 * reused buffers and, during model pre-passes, its share of the model-level
 * histograms (integer counts, summed by the scheduler: order-independent).
 */
import { writeChunkF32, writeChunkRaw, closeChunkFiles, type WriterLayout } from "../../io/index.js";
import type { CarryJob, ComputeJob, Job } from "../plan.js";
import { Buffers, Readers, runCarryJob, runComputeJob, runModelPass, type JobSink, type SourceDescription } from "./job.js";

export interface RunnerInit {
  sources: SourceDescription[];
  chunkSize: number;
  /** Save: one writer layout per plan root. */
  layouts?: Array<WriterLayout | undefined>;
  /** Materialize: return outputs to the caller. */
  collect?: boolean;
}

export type Task =
  | { type: "compute"; job: Job; modelValues: Record<string, number> }
  | { type: "model"; job: ComputeJob; stage: "high" | "low"; bins: Record<string, number> };

export interface TaskResult {
  name: string;
  scalars?: Record<string, number>;
  /** Bytes written per (root, tensor), for the owning writer's bookkeeping. */
  written: Array<[number, string, number]>;
  /** Collected outputs: (root, tensor, data). */
  arrays: Array<[number, string, Float32Array | Uint8Array]>;
  bytesRead: number;
  rangeReads: number;
}

export class TaskRunner {
  private readonly readers: Readers;
  private readonly buffers = new Buffers();
  private hists = new Map<string, Float64Array>();

  constructor(private readonly init: RunnerInit) {
    this.readers = new Readers(init.sources);
  }

  run(task: Task): TaskResult {
    const before = { bytes: this.readers.bytesRead, reads: this.readers.rangeReads };
    const result: TaskResult = { name: task.job.name, written: [], arrays: [], bytesRead: 0, rangeReads: 0 };
    const ctx = { readers: this.readers, buffers: this.buffers, chunkSize: this.init.chunkSize, modelValues: task.type === "compute" ? task.modelValues : {} };
    if (task.type === "model") {
      runModelPass(task.job, ctx, task.stage, this.hists, task.bins);
    } else if (task.job.kind === "carry") {
      runCarryJob(task.job, ctx, this.sink(result, task.job));
    } else {
      result.scalars = runComputeJob(task.job, ctx, this.sink(result, task.job));
    }
    result.bytesRead = this.readers.bytesRead - before.bytes;
    result.rangeReads = this.readers.rangeReads - before.reads;
    return result;
  }

  /** The model-level histograms accumulated since the last flush. */
  flush(): Record<string, Float64Array> {
    const out = Object.fromEntries(this.hists);
    this.hists = new Map();
    return out;
  }

  close(): void {
    this.readers.close();
    for (const l of this.init.layouts ?? []) if (l) closeChunkFiles(l);
  }

  private sink(result: TaskResult, job: Job): JobSink {
    const layouts = this.init.layouts;
    const written = new Map<string, number>();
    const note = (root: number, bytes: number) => {
      const key = `${root}`;
      written.set(key, (written.get(key) ?? 0) + bytes);
    };
    const collected = new Map<number, Float32Array | Uint8Array>();
    const finish = () => {
      result.written = [...written].map(([root, bytes]) => [Number(root), job.name, bytes]);
      result.arrays = [...collected].map(([root, data]) => [root, job.name, data]);
    };
    return {
      writeF32: (j: ComputeJob, k: number, start: number, data: Float32Array) => {
        const root = j.outputs[k].root;
        const layout = layouts?.[root];
        if (layout) note(root, writeChunkF32(layout, j.name, start, data));
        if (this.init.collect) {
          let arr = collected.get(root) as Float32Array | undefined;
          if (!arr) collected.set(root, (arr = new Float32Array(j.numel)));
          arr.set(data, start);
        }
        finish();
      },
      writeRaw: (j: CarryJob, start: number, bytes: Uint8Array) => {
        const layout = layouts?.[j.root];
        if (layout) note(j.root, writeChunkRaw(layout, j.name, start, bytes));
        if (this.init.collect) {
          let arr = collected.get(j.root) as Uint8Array | undefined;
          if (!arr) collected.set(j.root, (arr = new Uint8Array(j.byteLength)));
          arr.set(bytes, start);
        }
        finish();
      },
    };
  }
}
