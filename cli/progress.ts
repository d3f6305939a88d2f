/**
 * Progress of a run, on stderr (stdout stays for the script's print() and
 * --json): on a terminal one live line redrawn in place; otherwise (CI logs,
 * pipes, batch jobs) a plain line every few seconds; nothing with --quiet;
 * with --json nothing while running and one JSON summary on stdout at the end.
 *
 *   merging  12/291 tensors  4%  1.21 GB read  310.4 MB/s  ETA 0:41  model.layers.3.mlp.up_proj.weight
 */
import { formatBytes } from "../core/present.js";

/** What the engine reports (engine/exec Progress, structurally). */
export interface ProgressEvent {
  stage: string;
  tensorsDone: number;
  tensorsTotal: number;
  bytesRead: number;
  bytesPerSecond: number;
  tensor: string;
}

/** What one save wrote (engine SaveSummary, structurally). */
export interface SaveRecord {
  path: string;
  tensors: number;
  bytes: number;
  seconds: number;
  bytesRead: number;
}

export type ProgressMode = "tty" | "lines" | "quiet" | "json";

export interface Writable {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ReporterOptions {
  mode: ProgressMode;
  /** Where progress goes (stderr). */
  err: Writable;
  /** Where the --json summary goes (stdout). */
  out: Writable;
  /** Plain mode: at most one line per interval (ms); default 5000 (MERGELAB_PROGRESS_INTERVAL overrides). */
  intervalMs?: number;
  now?: () => number;
}

/** --quiet, --json, else tty when stderr is a terminal, else plain lines. */
export function progressMode(flags: { quiet?: boolean; json?: boolean }, err: Writable): ProgressMode {
  if (flags.json) return "json";
  if (flags.quiet) return "quiet";
  return err.isTTY ? "tty" : "lines";
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export class ProgressReporter {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private started = 0;
  private lastDraw = -Infinity;
  private live = false;
  private last: ProgressEvent | undefined;
  private readonly saves: SaveRecord[] = [];
  private readonly t0: number;

  constructor(private readonly opts: ReporterOptions) {
    this.now = opts.now ?? Date.now;
    const env = Number(process.env.MERGELAB_PROGRESS_INTERVAL);
    this.intervalMs = opts.intervalMs ?? (Number.isFinite(env) && env >= 0 ? env : 5000);
    this.t0 = this.now();
  }

  /** The engine's progress callback. */
  readonly update = (p: ProgressEvent): void => {
    const { mode } = this.opts;
    if (mode === "quiet" || mode === "json") return;
    const t = this.now();
    if (!this.last || p.tensorsDone < this.last.tensorsDone || p.stage !== this.last.stage) this.started = t;
    this.last = p;
    const final = p.tensorsDone >= p.tensorsTotal;
    if (mode === "tty") {
      if (!final && t - this.lastDraw < 100) return; // redraw at most 10×/s
      this.opts.err.write(`\r\x1b[2K${this.line(p, t)}`);
      this.live = true;
    } else {
      if (!final && t - this.lastDraw < this.intervalMs) return;
      this.opts.err.write(this.line(p, t) + "\n");
    }
    this.lastDraw = t;
  };

  private line(p: ProgressEvent, t: number): string {
    const pct = p.tensorsTotal ? Math.floor((100 * p.tensorsDone) / p.tensorsTotal) : 100;
    const elapsed = (t - this.started) / 1000;
    const eta = p.tensorsDone > 0 ? (elapsed * (p.tensorsTotal - p.tensorsDone)) / p.tensorsDone : NaN;
    const verb = p.stage === "tensors" ? "merging" : p.stage;
    return [
      verb,
      `${p.tensorsDone}/${p.tensorsTotal} tensors`,
      `${pct}%`,
      `${formatBytes(p.bytesRead, 2)} read`,
      `${formatBytes(p.bytesPerSecond, 2)}/s`,
      `ETA ${formatDuration(eta)}`,
      p.tensor,
    ].join("  ");
  }

  /** A save finished: end the live line and say where the result is. */
  saved(s: SaveRecord): void {
    this.saves.push(s);
    this.last = undefined;
    this.lastDraw = -Infinity;
    const { mode, err } = this.opts;
    if (mode === "quiet" || mode === "json") return;
    if (this.live) err.write("\r\x1b[2K");
    this.live = false;
    err.write(`saved ${s.path}: ${s.tensors} tensors, ${formatBytes(s.bytes, 2)} in ${s.seconds.toFixed(1)} s (${formatBytes(s.bytesRead, 2)} read)\n`);
  }

  /** Clear a live line before an error message is printed. */
  interrupt(): void {
    if (this.live) this.opts.err.write("\r\x1b[2K");
    this.live = false;
  }

  /** The end of the run: --json prints its summary. */
  finish(extra: Record<string, unknown> = {}): void {
    this.interrupt();
    if (this.opts.mode !== "json") return;
    const summary = { ok: true, seconds: (this.now() - this.t0) / 1000, outputs: this.saves, ...extra };
    this.opts.out.write(JSON.stringify(summary) + "\n");
  }
}
