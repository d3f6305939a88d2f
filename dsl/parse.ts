/**
 * Text → AST. Each top-level statement is parsed on its own (see layout.ts),
 * so a run reports one error per broken statement, every statement of the
 * file; lexing and layout errors come first in source order.
 */
import type { IToken } from "chevrotain";
import { parser } from "./parser.js";
import { layout, tokenSpan } from "./layout.js";
import { buildStatement, type AstError } from "./build-ast.js";
import type { Program, Stmt } from "./ast.js";
import { locOf, type Diagnostic, type Span } from "./diagnostics.js";
import { astDepth, MAX_EXPR_DEPTH, nestingProblem } from "./limits.js";

export interface ParseResult {
  program: Program;
  diagnostics: Diagnostic[];
}

export function parse(text: string, file = "<input>"): ParseResult {
  const { body, errors } = parseRecovering(text);
  errors.sort((a, b) => a.span.offset - b.span.offset);
  return {
    program: { kind: "program", file, source: text, body },
    diagnostics: errors.map((e) => ({ loc: locOf(e.span, file), message: e.message })),
  };
}

/**
 * An unclosed bracket swallows the rest of the file into one statement. To
 * report the errors after it too, parsing resumes at the next line that
 * starts in column 1 with a name (what a new statement looks like), with
 * everything before it blanked out so lines and columns stay put. Only runs
 * on text that already has that error, so valid scripts are never affected.
 */
function parseRecovering(text: string): { body: Stmt[]; errors: AstError[] } {
  const r = parseStatements(text);
  if (r.unclosedAt === undefined) return r;
  const resume = resumeOffset(text, r.unclosedAt);
  if (resume < 0) return r;
  const rest = parseRecovering(text.slice(0, resume).replace(/[^\n]/g, " ") + text.slice(resume));
  return {
    body: [...r.body, ...rest.body],
    errors: [...r.errors.filter((e) => e.span.offset < resume), ...rest.errors.filter((e) => e.span.offset >= resume)],
  };
}

function resumeOffset(text: string, from: number): number {
  const re = /\n(?=[A-Za-z_\u0370-\u03FF\u1F00-\u1FFF])/g;
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index + 1 : -1;
}

function parseStatements(text: string): { body: Stmt[]; errors: AstError[]; unclosedAt?: number } {
  const { tokens, statements, errors: lexErrors } = layout(text);
  const errors: AstError[] = [...lexErrors];
  const body: Stmt[] = [];
  statements.forEach(({ start, end }, i) => {
    const slice = tokens.slice(start, end);
    const from = i === 0 ? 0 : slice[0]!.startOffset;
    const next = statements[i + 1];
    const to = next ? tokens[next.start]!.startOffset - 1 : text.length;
    // a lexing error inside the statement already explains why it does not parse
    const hasLexError = lexErrors.some((e) => e.span.offset >= from && e.span.offset <= to) || unclosedAt(lexErrors, from, to);
    // the parser recurses once per bracket and prefix operator: refuse what would overflow its stack
    const deep = nestingProblem(slice);
    if (deep) {
      errors.push({ span: tokenSpan(deep.token), message: deep.message });
      return;
    }
    parser.input = slice;
    const cst = parser.statementLine();
    if (parser.errors.length > 0) {
      if (!hasLexError) {
        const e = parser.errors[0]!;
        errors.push({ span: errorSpan(e.token, slice), message: e.message });
      }
      return;
    }
    const astErrors: AstError[] = [];
    const stmt = buildStatement(cst, astErrors);
    // evaluation recurses once per level: a 4,000-term a+b+… would overflow the stack
    if (astErrors.length === 0 && astDepth(stmt) > MAX_EXPR_DEPTH) {
      astErrors.push({ span: stmt.span, message: `expression nested more than ${MAX_EXPR_DEPTH} levels deep (e.g. a very long chain of operators); split it with names or use sum()` });
    }
    errors.push(...astErrors);
    if (astErrors.length === 0) body.push(stmt);
  });
  const unclosed = lexErrors.find((e) => e.message.endsWith("was never closed"));
  return { body, errors, unclosedAt: unclosed?.span.offset };
}

function unclosedAt(errors: AstError[], from: number, to: number): boolean {
  return errors.some((e) => e.message.includes("never closed") && e.span.offset >= from && e.span.offset <= to);
}

/** Where a parse error points: the offending token, or just after the previous one at end of input. */
function errorSpan(t: IToken, slice: IToken[]): Span {
  if (!isNaN(t.startOffset) && t.image !== "") return tokenSpan(t);
  // EOF or a virtual separator: point right after the last real token
  const real = [...slice].reverse().find((x) => x.image !== "" && !isNaN(x.startOffset) && x.startOffset <= (isNaN(t.startOffset) ? Infinity : t.startOffset));
  if (!real) return { offset: 0, end: 1, line: 1, col: 1 };
  const s = tokenSpan(real);
  const endCol = (real.endColumn ?? s.col) + 1;
  return { offset: s.end, end: s.end + 1, line: real.endLine ?? s.line, col: endCol };
}
