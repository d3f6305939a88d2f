/**
 * Diagnostics: `FILE:LINE:COL: error: message`, then the source line and a
 * caret line underlining the span (clang style). A script run that fails
 * throws one ScriptError carrying every diagnostic of the run.
 */
import { MergelabError, type SourceLocation } from "../core/errors.js";

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

