/**
 * A live progress bar for long runs (save, evaluate) in a notebook: one
 * display_data, then update_display_data under the same display id, at most a
 * few times a second. Shows tensors done, throughput (bytes/s) and ETA.
 * Works with any `display` sink — a language call's CallContext.display, or
 * the tslab helper (core/display.ts) from TypeScript.
 */
import { randomUUID } from "node:crypto";
import { InterruptedError } from "./errors.js";
import type { MimeBundle } from "./values.js";
import { escapeHtml, formatBytes } from "./present.js";

/** What the engine reports (engine/exec Progress has these fields and more). */
export interface Progress {
  tensorsDone: number;
  tensorsTotal: number;
  /** Bytes read so far; drives bytes/s. */
  bytesRead: number;
  /** Expected total bytes; the ETA uses bytes when known, else tensors. */
  bytesTotal?: number;
  /** A named phase before the tensors (e.g. "model statistics"). */
  stage?: string;
}

/** What withProgress needs of a language call's context (stdlib's CallContext has these). */
export interface ProgressContext {
  display(bundle: MimeBundle, opts?: { displayId?: string; update?: boolean }): void;
  dryRun: boolean;
  options: { quiet?: boolean };
}

export type DisplaySink = (bundle: MimeBundle, opts: { displayId: string; update: boolean }) => void;

export class ProgressBar {
  private readonly id = `mergelab-progress-${randomUUID()}`;
  private readonly started: number;
  private lastSent = -Infinity;
  private shown = false;
  private last: Progress = { tensorsDone: 0, tensorsTotal: 0, bytesRead: 0 };

  constructor(
    private readonly display: DisplaySink,
    private readonly label: string,
    private readonly now: () => number = () => performance.now(),
    private readonly minIntervalMs = 250,
  ) {
    this.started = now();
  }

  /** Report progress; sends an update at most every `minIntervalMs` (the first and last always). */
  update(p: Progress): void {
    this.last = p;
    const t = this.now();
    if (this.shown && t - this.lastSent < this.minIntervalMs && p.tensorsDone < p.tensorsTotal) return;
    this.lastSent = t;
    this.send(progressBundle(this.label, p, (t - this.started) / 1000));
  }

  /** The run finished: the bar shows the totals and the time taken. */
  finish(p: Progress = this.last): void {
    this.last = p;
    this.send(progressBundle(this.label, p, (this.now() - this.started) / 1000, "done"));
  }

  /** The run stopped (interrupted or failed): the bar says so; nothing was written. */
  fail(reason: string): void {
    this.send(progressBundle(this.label, this.last, (this.now() - this.started) / 1000, reason));
  }

  private send(bundle: MimeBundle): void {
    this.display(bundle, { displayId: this.id, update: this.shown });
    this.shown = true;
  }
}

/** The bar as text and HTML; `outcome` is "done", a failure reason, or absent while running. */
export function progressBundle(label: string, p: Progress, seconds: number, outcome?: string): MimeBundle {
  const fraction = p.bytesTotal ? p.bytesRead / p.bytesTotal : p.tensorsTotal ? p.tensorsDone / p.tensorsTotal : 0;
  const clamped = Math.min(1, Math.max(0, fraction));
  const rate = seconds > 0 ? p.bytesRead / seconds : 0;
  const parts = [`${p.tensorsDone}/${p.tensorsTotal} tensors`, `${formatBytes(rate)}/s`];
  if (p.stage && p.stage !== "tensors" && !outcome) parts.unshift(p.stage);
  if (outcome === "done") parts.push(`done in ${formatSeconds(seconds)}`);
  else if (outcome) parts.push(outcome);
  else if (clamped > 0 && rate > 0) parts.push(`ETA ${formatSeconds((seconds * (1 - clamped)) / clamped)}`);
  const width = 30;
  const filled = Math.round(clamped * width);
  const text = `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(clamped * 100).toFixed(0)}% · ${parts.join(" · ")}`;
  const color = outcome && outcome !== "done" ? "#c0392b" : "#2e86de";
  const html =
    `<div class="mergelab-progress" style="font-family:monospace;font-size:12px">` +
    `<span>${escapeHtml(label)}</span> ` +
    `<span style="display:inline-block;vertical-align:middle;width:220px;height:10px;background:#e5e5e5;border-radius:3px;overflow:hidden">` +
    `<span style="display:block;height:100%;width:${(clamped * 100).toFixed(1)}%;background:${color}"></span></span> ` +
    `<span>${(clamped * 100).toFixed(0)}% · ${escapeHtml(parts.join(" · "))}</span></div>`;
  return { "text/plain": text, "text/html": html };
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : s.toFixed(0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Run a long operation (save, evaluate) with a live progress bar in the
 * notebook: `run` gets a callback to pass as the engine's `progress` option.
 * The bar ends as "done", "interrupted — nothing written" or "failed". No
 * bar in dry runs or with `quiet`; outside a notebook `ctx.display` ignores it.
 *
 *   const summary = await withProgress(ctx, `saving ${path}`, (progress) =>
 *     saveModel(model, target, { ..., signal: ctx.signal, progress }));
 */
export async function withProgress<T>(
  ctx: ProgressContext,
  label: string,
  run: (progress: (p: Progress) => void) => Promise<T>,
): Promise<T> {
  if (ctx.dryRun || ctx.options.quiet) return run(() => {});
  const bar = new ProgressBar((bundle, opts) => ctx.display(bundle, opts), label);
  try {
    const result = await run((p) => bar.update(p));
    bar.finish();
    return result;
  } catch (e) {
    bar.fail(e instanceof InterruptedError ? "interrupted — nothing written" : "failed");
    throw e;
  }
}
