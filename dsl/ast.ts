/**
 * The typed AST: plain `{kind: ...}` objects, each with its source span.
 * Built from the chevrotain CST by build-ast.ts; read by the interpreter.
 */
import type { Span } from "./diagnostics.js";

export type BinaryOp = "+" | "-" | "*" | "/" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "and" | "or";

export type Expr =
  | { kind: "number"; value: number; span: Span }
  | { kind: "string"; value: string; span: Span }
  | { kind: "bool"; value: boolean; span: Span }
  | { kind: "none"; span: Span }
  | { kind: "name"; name: string; span: Span }
  | { kind: "list"; items: Expr[]; span: Span }
  /** `{"k": v}` (string keys) or `{k: v}` (a record: name keys); both evaluate to a Dict. */
  | { kind: "dict"; entries: DictEntry[]; record: boolean; span: Span }
  | { kind: "comprehension"; element: Expr; clauses: CompClause[]; span: Span }
  | { kind: "call"; callee: Expr; args: Arg[]; span: Span }
  | { kind: "index"; target: Expr; index: Expr; span: Span }
  | { kind: "slice"; target: Expr; start?: Expr; stop?: Expr; step?: Expr; span: Span }
  | { kind: "attr"; target: Expr; name: string; nameSpan: Span; span: Span }
  | { kind: "unary"; op: "-" | "+" | "not"; operand: Expr; span: Span }
  | { kind: "binary"; op: BinaryOp; left: Expr; right: Expr; opSpan: Span; span: Span };

export interface DictEntry {
  key: string;
  keySpan: Span;
  value: Expr;
}

export type CompClause = { kind: "for"; name: string; nameSpan: Span; iter: Expr } | { kind: "if"; cond: Expr };

/** A call argument: positional (`name` absent) or keyword `name=value`. */
export interface Arg {
  name?: string;
  nameSpan?: Span;
  value: Expr;
  span: Span;
}

export interface Param {
  name: string;
  span: Span;
  default?: Expr;
}

export type Stmt =
  | { kind: "assign"; name: string; nameSpan: Span; value: Expr; span: Span }
  | { kind: "expr"; expr: Expr; span: Span }
  | { kind: "for"; name: string; nameSpan: Span; iter: Expr; body: Stmt[]; span: Span }
  | { kind: "if"; cond: Expr; then: Stmt[]; else?: Stmt[]; span: Span }
  /** `def f(a, b=1) = expr` (body is one expression statement) or `def f(a) { stmts }` (last expression is the value). */
  | { kind: "def"; name: string; nameSpan: Span; params: Param[]; body: Stmt[]; span: Span };

export interface Program {
  kind: "program";
  file: string;
  source: string;
  body: Stmt[];
}

export function spanFrom(a: Span, b: Span): Span {
  return { offset: a.offset, end: Math.max(a.end, b.end), line: a.line, col: a.col };
}
