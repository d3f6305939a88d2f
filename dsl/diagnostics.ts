/**
 * Diagnostics: `FILE:LINE:COL: error: message`, then the source line and a
 * caret line underlining the span (clang style). A script run that fails
 * throws one ScriptError carrying every diagnostic of the run.
 */
import { MergelabError, type SourceLocation } from "../kernel/errors.js";

export interface Diagnostic {
  loc: SourceLocation;
  message: string;
}

/** A source span inside a script (offsets are 0-based, end exclusive). */
export interface Span {
  offset: number;
  end: number;
  line: number;
  col: number;
}

export function locOf(span: Span, file: string): SourceLocation {
  return { file, line: span.line, col: span.col, length: Math.max(1, span.end - span.offset) };
}

/** The diagnostic line plus the source line and caret line under it. */
export function renderDiagnostic(d: Diagnostic, source: string | undefined): string {
  const head = `${d.loc.file}:${d.loc.line}:${d.loc.col}: error: ${d.message}`;
  if (source === undefined) return head;
  const lines = source.split("\n");
  const text = (lines[d.loc.line - 1] ?? "").replace(/\r$/, "");
  if (d.loc.line > lines.length) return head;
  const start = Math.min(d.loc.col - 1, text.length);
  // keep tabs so the caret lines up with the source as displayed
  const pad = text.slice(0, start).replace(/[^\t]/g, " ");
  const width = Math.max(1, Math.min(d.loc.length ?? 1, text.length - start));
  return `${head}\n${text}\n${pad}^${"~".repeat(width - 1)}`;
}

export function renderDiagnostics(ds: readonly Diagnostic[], source: string | undefined): string {
  return ds.map((d) => renderDiagnostic(d, source)).join("\n");
}

/**
 * Every diagnostic of one run. `message` and `loc` are the first one's (so a
 * plain `FILE:LINE:COL: error: message` printer shows it); `rendered` has all
 * of them with source and caret lines — what the CLI and the notebook print.
 */
export class ScriptError extends MergelabError {
  readonly rendered: string;
  constructor(
    readonly diagnostics: Diagnostic[],
    readonly source: string | undefined,
  ) {
    super(diagnostics[0]?.message ?? "error", { loc: diagnostics[0]?.loc });
    this.name = "ScriptError";
    this.rendered = renderDiagnostics(diagnostics, source);
  }
}

/** Edit distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The closest candidate: within an edit distance that grows with the name's
 * length, else one that is a prefix of the name or starts with it
 * (`ties_merge` → `ties`, `acc` → `accuracy`).
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  let prefix: string | undefined;
  for (const c of candidates) {
    if (c === name || c.startsWith("__")) continue;
    const d = c.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, c);
    if (d < bestD || (d === bestD && best !== undefined && c < best)) {
      best = c;
      bestD = d;
    }
    const related = Math.min(c.length, name.length) >= 3 && (name.startsWith(c) || c.startsWith(name));
    if (related && (prefix === undefined || Math.abs(c.length - name.length) < Math.abs(prefix.length - name.length))) prefix = c;
  }
  return bestD <= limit ? best : prefix;
}

export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c ? ` (did you mean '${c}'?)` : "";
}
