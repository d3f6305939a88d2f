/**
 * Lexing plus the layout pass that makes newlines mean what users expect:
 * - inside (), [] and literal {} newlines are insignificant (an expression
 *   may span lines); inside a block `{ … }` and at top level they separate
 *   statements, as `;` does;
 * - a `{` right after the header of a for/def/if statement (after an
 *   expression's last token, `)` or `else`) opens a block; any other `{` is
 *   a dict/record literal;
 * - separators are collapsed to one, a separator is ensured before each
 *   block `}` and at the end, and a newline before `else` is dropped.
 * The result is split into top-level statements, each parsed on its own so
 * that one run reports an error per broken statement.
 */
import type { IToken, TokenType } from "chevrotain";
import { tokenMatcher, createTokenInstance } from "./chevrotain.js";
import * as T from "./tokens.js";
import type { Span } from "./diagnostics.js";

export interface LexError {
  span: Span;
  message: string;
}

export interface Layout {
  tokens: IToken[];
  /** Top-level statements: token index ranges [start, end) into `tokens`, each ending with its Sep. */
  statements: Array<{ start: number; end: number }>;
  errors: LexError[];
}

type Frame = { open: IToken; kind: "paren" | "bracket" | "brace" | "block"; header: boolean; atStart: boolean };

const closerOf: Record<string, string> = { paren: ")", bracket: "]", brace: "}", block: "}" };
const enders: TokenType[] = [T.Identifier, T.NumberLit, T.StringLit, T.RParen, T.RBracket, T.RCurly, T.BlockClose, T.True, T.False, T.None, T.Else];

export function tokenSpan(t: IToken): Span {
  return { offset: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1, line: t.startLine ?? 1, col: t.startColumn ?? 1 };
}

function describeChar(c: string): string {
  const code = c.codePointAt(0)!;
  return code < 32 || code > 126 ? `'${c}' (U+${code.toString(16).toUpperCase().padStart(4, "0")})` : `'${c}'`;
}

function lex(text: string): { tokens: IToken[]; errors: LexError[] } {
  const r = T.lexer.tokenize(text);
  const errors: LexError[] = r.errors.map((e) => {
    const bad = text.slice(e.offset, e.offset + e.length);
    const message =
      bad.length === 1 ? `unexpected character ${describeChar(bad)}` : `unexpected characters '${bad.replace(/\n/g, "\\n")}'`;
    return { span: { offset: e.offset, end: e.offset + e.length, line: e.line ?? 1, col: e.column ?? 1 }, message };
  });
  const tokens: IToken[] = [];
  for (const t of r.tokens) {
    if (tokenMatcher(t, T.UnterminatedString)) {
      errors.push({ span: tokenSpan(t), message: "unterminated string (a string must end on the line it starts)" });
      continue;
    }
    tokens.push(t);
  }
  return { tokens, errors };
}

function virtualSep(after: IToken | undefined, text: string): IToken {
  const offset = after ? (after.endOffset ?? after.startOffset) + 1 : text.length;
  const line = after?.endLine ?? 1;
  const col = after ? (after.endColumn ?? 0) + 1 : 1;
  return createTokenInstance(T.Sep, "", offset, offset - 1, line, line, col, col - 1);
}

function retype(t: IToken, type: TokenType): IToken {
  return createTokenInstance(type, t.image, t.startOffset, t.endOffset ?? t.startOffset, t.startLine ?? 1, t.endLine ?? 1, t.startColumn ?? 1, t.endColumn ?? 1);
}

export function layout(text: string): Layout {
  const { tokens: raw, errors } = lex(text);
  const out: IToken[] = [];
  const top: Frame = { open: raw[0]!, kind: "block", header: false, atStart: true };
  const stack: Frame[] = [];
  const frame = () => stack[stack.length - 1] ?? top;
  const last = () => out[out.length - 1];
  const isSep = (t: IToken | undefined) => t !== undefined && tokenMatcher(t, T.Sep);

  const emit = (t: IToken) => {
    const f = frame();
    if (f.kind === "block" && f.atStart) {
      f.header = tokenMatcher(t, T.For) || tokenMatcher(t, T.Def) || tokenMatcher(t, T.If);
      f.atStart = false;
    }
    out.push(t);
  };
  const separate = (t: IToken) => {
    const prev = last();
    if (prev === undefined || isSep(prev) || tokenMatcher(prev, T.BlockOpen)) return;
    out.push(t);
    frame().atStart = true;
  };
  const close = (t: IToken) => {
    let at = stack.length - 1;
    while (at >= 0 && closerOf[stack[at]!.kind] !== t.image) at--;
    if (at < 0) {
      errors.push({ span: tokenSpan(t), message: `unmatched '${t.image}'` });
      return; // dropped: the rest of the statement still parses
    }
    if (at < stack.length - 1) {
      const o = stack[stack.length - 1]!.open;
      errors.push({ span: tokenSpan(o), message: `'${o.image}' was never closed (found '${t.image}' at line ${t.startLine}, column ${t.startColumn})` });
      stack.length = at + 1;
    }
    const f = stack.pop()!;
    if (f.kind === "block") {
      if (!isSep(last()) && !tokenMatcher(last()!, T.BlockOpen)) out.push(virtualSep(last(), text));
      emit(retype(t, T.BlockClose));
    } else emit(t);
  };

  for (const t of raw) {
    const f = frame();
    if (tokenMatcher(t, T.Sep)) {
      if (f.kind === "block") separate(t);
      else if (tokenMatcher(t, T.Semicolon)) emit(t); // a ';' inside brackets is a syntax error the parser reports
      continue;
    }
    if (tokenMatcher(t, T.Else) && isSep(last()) && out.length >= 2 && tokenMatcher(out[out.length - 2]!, T.BlockClose)) {
      out.pop(); // `}` newline `else`: the if statement goes on
      f.atStart = false;
    }
    if (tokenMatcher(t, T.LParen)) {
      emit(t);
      stack.push({ open: t, kind: "paren", header: false, atStart: false });
    } else if (tokenMatcher(t, T.LBracket)) {
      emit(t);
      stack.push({ open: t, kind: "bracket", header: false, atStart: false });
    } else if (tokenMatcher(t, T.LCurly)) {
      const prev = last();
      const block = f.kind === "block" && f.header && prev !== undefined && enders.some((e) => tokenMatcher(prev, e));
      emit(block ? retype(t, T.BlockOpen) : t);
      stack.push({ open: t, kind: block ? "block" : "brace", header: false, atStart: block });
    } else if (tokenMatcher(t, T.RParen) || tokenMatcher(t, T.RBracket) || tokenMatcher(t, T.RCurly)) {
      close(t);
    } else emit(t);
  }
  if (stack.length > 0) {
    const o = stack[0]!.open;
    errors.push({ span: tokenSpan(o), message: `'${o.image}' was never closed` });
  }
  if (out.length > 0 && !isSep(last())) out.push(virtualSep(last(), text));
  return { tokens: out, statements: splitStatements(out), errors };
}

/** Top-level statements: runs of tokens ending with a Sep outside every block. */
function splitStatements(tokens: IToken[]): Array<{ start: number; end: number }> {
  const result: Array<{ start: number; end: number }> = [];
  let depth = 0;
  let start = 0;
  tokens.forEach((t, i) => {
    if (tokenMatcher(t, T.BlockOpen)) depth++;
    else if (tokenMatcher(t, T.BlockClose)) depth = Math.max(0, depth - 1);
    else if (depth === 0 && tokenMatcher(t, T.Sep)) {
      result.push({ start, end: i + 1 });
      start = i + 1;
    }
  });
  if (start < tokens.length) result.push({ start, end: tokens.length });
  return result;
}
