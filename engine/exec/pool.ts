/**
 * The scheduler: runs a plan's jobs on runners — worker threads (parallel
 * ACROSS output tensors, never inside one, so results do not depend on the
 * worker count) or, for small plans, the calling thread. Model-scope
 * statistics first: two radix pre-passes whose integer histograms are summed
 * here; then every tensor. Progress after each tensor; an AbortSignal
 * terminates the workers and rejects with InterruptedError.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { InterruptedError, MergelabError } from "../../core/errors.js";
import type { WriterLayout } from "../../io/index.js";
import type { ComputeJob, Plan } from "../plan.js";
import { clampRank, histTotal, keyToFloat, selectBin } from "./compile.js";
import type { SourceDescription } from "./job.js";
import { TaskRunner, type RunnerInit, type Task, type TaskResult } from "./tasks.js";

export interface Progress {
  stage: "model statistics" | "tensors";
  tensorsDone: number;
  tensorsTotal: number;
  bytesRead: number;
  bytesPerSecond: number;
  /** The tensor just finished. */
  tensor: string;
}

export interface ExecOptions {
  /** Worker threads (default: os.availableParallelism(); 0 = run in this thread). Small plans run in this thread unless set. */
  workers?: number;
  /** Elements per input per chunk (default DEFAULT_CHUNK = 256K; a tensor that fits is read once for all passes). */
  chunkSize?: number;
  progress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface ExecResult {
  results: TaskResult[];
  bytesRead: number;
  rangeReads: number;
  modelValues: Record<string, number>;
}

/** Plans with fewer total output elements than this run in the calling thread unless `workers` is given. */
export const INLINE_LIMIT = 1 << 20;

interface Runner {
  run(task: Task): Promise<TaskResult>;
  flush(): Promise<Record<string, Float64Array>>;
  close(): Promise<void>;
  kill(): void;
}

class InlineRunner implements Runner {
  private readonly runner: TaskRunner;
  private killed = false;
  constructor(init: RunnerInit) {
    this.runner = new TaskRunner(init);
  }
  async run(task: Task): Promise<TaskResult> {
    await new Promise((r) => setImmediate(r)); // let an abort signal through between tensors
    if (this.killed) throw new InterruptedError();
    return this.runner.run(task);
  }
  async flush() {
    return this.runner.flush();
  }
  async close() {
    this.runner.close();
  }
  kill() {
    this.killed = true;
    this.runner.close();
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

/** Idle workers kept between executions (unref'd: they never keep the process alive). */
const idle: Worker[] = [];

class WorkerRunner implements Runner {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private dead: Error | undefined;
  private readonly ready: Promise<unknown>;
  private readonly onMessage = (msg: { id: number; ok: boolean; result?: unknown; error?: { message: string; stack?: string; user: boolean; details?: object } }) => {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else {
      const e = msg.error!;
      const err = e.user ? new MergelabError(e.message, e.details) : new Error(`engine worker: ${e.message}`);
      if (!e.user && e.stack) err.stack = e.stack;
      p.reject(err);
    }
  };
  private readonly onError = (e: Error) => this.fail(e);
  private readonly onExit = (code: number) => this.fail(new Error(`engine worker exited (code ${code})`));

  constructor(init: RunnerInit) {
    this.worker = idle.pop() ?? spawnWorker();
    this.worker.ref();
    this.worker.on("message", this.onMessage);
    this.worker.on("error", this.onError);
    this.worker.on("exit", this.onExit);
    this.ready = this.send({ type: "init", init });
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private send<T>(msg: object): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }

  async run(task: Task) {
    await this.ready;
    return this.send<TaskResult>({ type: "task", task });
  }
  async flush() {
    await this.ready;
    return this.send<Record<string, Float64Array>>({ type: "flush" });
  }
  /** Close the execution's files and return the worker to the pool. */
  async close() {
    await this.send({ type: "close" });
    this.detach();
    this.dead = new Error("closed");
    this.worker.unref();
    idle.push(this.worker);
  }
  kill() {
    this.fail(new InterruptedError());
    this.detach();
    void this.worker.terminate();
  }
  private detach(): void {
    this.worker.off("message", this.onMessage);
    this.worker.off("error", this.onError);
    this.worker.off("exit", this.onExit);
  }
}

/**
 * From dist/: the compiled worker.js. From TypeScript sources (vitest, tsx):
 * worker.ts through tsx's loader, registered inside the worker (an `--import
 * tsx` execArgv is not honoured under every test runner).
 */
function spawnWorker(): Worker {
  const w = startWorker();
  w.on("exit", () => {
    const i = idle.indexOf(w);
    if (i >= 0) idle.splice(i, 1);
  });
  return w;
}

function startWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./worker.js", import.meta.url));
  const api = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const file = new URL("./worker.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); });`;
  return new Worker(boot, { eval: true });
}

/**
 * The plan's sources as runners open them. `inline` (a runner in this thread): checkpoints are the plan's
 * own, not described and reopened (a second name table per checkpoint, issue #17).
 */
export function describeSources(plan: Plan, inline = false): SourceDescription[] {
  const used = plan.sources.some((s) => s.kind === "memory") ? usedTensors(plan) : [];
  return plan.sources.map((s, i) =>
    s.kind === "checkpoint"
      ? inline ? { kind: "open", checkpoint: s.checkpoint } : { kind: "checkpoint", description: s.checkpoint.describe() }
      : s.kind === "computed"
      ? s.describe()
      : { kind: "memory", tensors: Object.fromEntries([...s.tensors].filter(([name]) => used[i]?.has(name)).map(([name, t]) => [name, { shape: t.shape, dtype: t.dtype, data: t.data }])) },
  );
}

/** Per source index: the names of its tensors the plan's jobs read (one walk over the jobs). */
function usedTensors(plan: Plan): Array<Set<string>> {
  const used = plan.sources.map(() => new Set<string>());
  for (const j of plan.jobs) {
    if (j.kind === "carry") used[j.source].add(j.tensor);
    else for (const x of Object.values(j.inputSources)) used[x.source].add(x.tensor);
  }
  return used;
}

function runnerCount(plan: Plan, opts: ExecOptions): number {
  if (opts.workers !== undefined) return Math.max(0, Math.floor(opts.workers));
  const elements = plan.computeJobs.reduce((a, j) => a + j.numel * Math.max(1, Object.keys(j.inputSources).length), 0);
  return elements < INLINE_LIMIT ? 0 : plan.options.workers;
}

/**
 * Extra options of `execute`: `only` runs just the jobs of those tensors (the
 * others are skipped); `modelValues` gives model-scope statistics computed by
 * an earlier run of the same plan, so their pre-pass is skipped.
 */
export interface ExecuteOptions extends ExecOptions {
  layouts?: Array<WriterLayout | undefined>;
  collect?: boolean;
  only?: ReadonlySet<string>;
  modelValues?: Record<string, number>;
  /**
   * Each tensor's result as it finishes (in completion order). With it, `results` comes back empty:
   * a save of 100k tensors keeps no per-tensor record until the end.
   */
  onResult?: (r: TaskResult) => void;
}

/** Run the jobs of `plan` (every one, or `only` those); outputs go to `layouts` (save) and/or back to the caller (`collect`). */
export async function execute(plan: Plan, opts: ExecuteOptions): Promise<ExecResult> {
  const signal = opts.signal;
  if (signal?.aborted) throw new InterruptedError();
  const chunkSize = opts.chunkSize !== undefined ? Math.max(1, Math.floor(opts.chunkSize)) : plan.options.chunkSize;
  const selected = plan.jobs.filter((j) => !opts.only || opts.only.has(j.name));
  const n = Math.min(runnerCount(plan, opts), Math.max(1, selected.length));
  const init: RunnerInit = { sources: describeSources(plan, n === 0), chunkSize, layouts: opts.layouts, collect: opts.collect };
  const runners: Runner[] = n === 0 ? [new InlineRunner(init)] : Array.from({ length: n }, () => new WorkerRunner(init));
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    runners.forEach((r) => r.kill());
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const t0 = Date.now();
  const totals = { bytesRead: 0, rangeReads: 0 };
  try {
    const modelValues = opts.modelValues ?? (await modelStatistics(plan, runners, totals, opts, t0));
    // largest tensors first: better balance across workers (the order does not change results)
    // (each job's size computed once, not twice per comparison)
    const sizes = new Map(selected.map((j) => [j, size(j)]));
    const jobs = [...selected].sort((a, b) => sizes.get(b)! - sizes.get(a)!);
    const results = await runAll(
      runners,
      jobs.length,
      (i) => ({ type: "compute", job: jobs[i], modelValues }),
      (r, done) => {
        opts.onResult?.(r);
        progress(opts, "tensors", r, done, jobs.length, totals, t0);
      },
      !opts.onResult,
    );
    await Promise.all(runners.map((r) => r.close()));
    return { results, bytesRead: totals.bytesRead, rangeReads: totals.rangeReads, modelValues };
  } catch (e) {
    runners.forEach((r) => r.kill());
    if (aborted || signal?.aborted) throw new InterruptedError();
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

const size = (j: Plan["jobs"][number]) => (j.kind === "carry" ? j.byteLength / 4 : j.numel * (j.passes.length + Object.keys(j.inputSources).length));

function progress(opts: ExecOptions, stage: Progress["stage"], r: TaskResult, done: number, total: number, totals: { bytesRead: number; rangeReads: number }, t0: number): void {
  totals.bytesRead += r.bytesRead;
  totals.rangeReads += r.rangeReads;
  if (!opts.progress) return;
  const secs = Math.max((Date.now() - t0) / 1000, 1e-3);
  opts.progress({ stage, tensorsDone: done, tensorsTotal: total, bytesRead: totals.bytesRead, bytesPerSecond: totals.bytesRead / secs, tensor: r.name });
}

/**
 * Dynamic dispatch: each runner takes the next task (made when dispatched) when it finishes one.
 * Results in task order when `keep`, else none (the caller took each in `onDone`).
 */
async function runAll(runners: Runner[], count: number, task: (i: number) => Task, onDone: (r: TaskResult, done: number) => void, keep = true): Promise<TaskResult[]> {
  const results: TaskResult[] = keep ? new Array(count) : [];
  let next = 0;
  let done = 0;
  await Promise.all(
    runners.map(async (runner) => {
      while (next < count) {
        const i = next++;
        const r = await runner.run(task(i));
        if (keep) results[i] = r;
        onDone(r, ++done);
      }
    }),
  );
  return results;
}

/** Two radix pre-passes over every tensor holding kthModel nodes; returns each key's value. */
async function modelStatistics(plan: Plan, runners: Runner[], totals: { bytesRead: number; rangeReads: number }, opts: ExecOptions, t0: number): Promise<Record<string, number>> {
  if (plan.modelStats.length === 0) return {};
  const jobs = plan.computeJobs.filter((j) => j.modelPass);
  const stage = async (s: "high" | "low", bins: Record<string, number>) => {
    await runAll(runners, jobs.length, (i) => ({ type: "model", job: jobs[i], stage: s, bins }), (r, done) =>
      progress(opts, "model statistics", r, done, jobs.length * 2, totals, t0),
    );
    return mergeHists(await Promise.all(runners.map((r) => r.flush())));
  };
  const high = await stage("high", {});
  const bins: Record<string, number> = {};
  const ranks: Record<string, number> = {};
  const values: Record<string, number> = {};
  for (const { key, m } of plan.modelStats) {
    const h = high.get(key);
    const total = h ? histTotal(h) : 0;
    const mm = clampRank(m, total);
    if (!h || total === 0 || !(mm >= 1)) {
      values[key] = NaN;
      bins[key] = -1;
      continue;
    }
    const sel = selectBin(h, mm);
    bins[key] = sel.bin;
    ranks[key] = sel.rank;
  }
  const low = await stage("low", bins);
  for (const { key } of plan.modelStats) {
    if (bins[key] < 0) continue;
    const lowBin = selectBin(low.get(key)!, ranks[key]).bin;
    values[key] = keyToFloat(((bins[key] << 16) | lowBin) | 0);
  }
  return values;
}

function mergeHists(parts: Array<Record<string, Float64Array>>): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const part of parts) {
    for (const [key, h] of Object.entries(part)) {
      const acc = out.get(key);
      if (!acc) out.set(key, Float64Array.from(h));
      else for (let b = 0; b < 65536; b++) acc[b] += h[b];
    }
  }
  return out;
}

export type { ComputeJob };
