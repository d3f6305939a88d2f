/**
 * CST → AST: a chevrotain CST visitor returning plain `{kind: ...}` objects
 * with spans. Meaning-level checks that the grammar cannot express (an
 * assignment target must be a name, string escapes, mixed dict keys) are
 * reported here.
 */
import type { CstNode, CstElement, IToken } from "chevrotain";
import { parser } from "./parser.js";
import type { Arg, BinaryOp, CompClause, DictEntry, Expr, Param, Stmt } from "./ast.js";
import { spanFrom } from "./ast.js";
import type { Span } from "./diagnostics.js";
import { tokenSpan } from "./layout.js";

type Ctx = Record<string, CstElement[] | undefined>;

export interface AstError {
  span: Span;
  message: string;
}

const BaseVisitor = parser.getBaseCstVisitorConstructor();

const tok = (ctx: Ctx, name: string, i = 0) => ctx[name]?.[i] as IToken | undefined;
const node = (ctx: Ctx, name: string, i = 0) => ctx[name]?.[i] as CstNode | undefined;
const nodes = (ctx: Ctx, name: string) => (ctx[name] ?? []) as CstNode[];
const toks = (ctx: Ctx, name: string) => (ctx[name] ?? []) as IToken[];

const PREC: Record<string, number> = { or: 1, and: 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6 };
const PREC_NOT = 3;
const PREC_CMP = 4;

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'" };

class AstBuilder extends BaseVisitor {
  errors: AstError[] = [];
  constructor() {
    super();
    this.validateVisitor();
  }

  private expr(n: CstNode | undefined): Expr {
    return this.visit(n!) as Expr;
  }
  private stmts(n: CstNode | undefined): Stmt[] {
    return n ? (this.visit(n) as Stmt[]) : [];
  }

  statementLine(ctx: Ctx): Stmt {
    return this.visit(node(ctx, "statement")!);
  }
  statement(ctx: Ctx): Stmt {
    return this.visit((node(ctx, "forStmt") ?? node(ctx, "defStmt") ?? node(ctx, "ifStmt") ?? node(ctx, "simpleStmt"))!);
  }

  simpleStmt(ctx: Ctx): Stmt {
    const target = this.expr(node(ctx, "target"));
    const valueNode = node(ctx, "value");
    if (!valueNode) return { kind: "expr", expr: target, span: target.span };
    const value = this.expr(valueNode);
    const span = spanFrom(target.span, value.span);
    if (target.kind !== "name") {
      this.errors.push({ span: target.span, message: "can only assign to a name" });
      return { kind: "expr", expr: value, span };
    }
    return { kind: "assign", name: target.name, nameSpan: target.span, value, span };
  }

  forStmt(ctx: Ctx): Stmt {
    const name = tok(ctx, "Identifier")!;
    const body = this.stmts(node(ctx, "block"));
    const iter = this.expr(node(ctx, "expression"));
    const span = spanFrom(tokenSpan(tok(ctx, "For")!), iter.span);
    return { kind: "for", name: name.image, nameSpan: tokenSpan(name), iter, body, span };
  }

  defStmt(ctx: Ctx): Stmt {
    const name = tok(ctx, "Identifier")!;
    const params = nodes(ctx, "param").map((p) => this.visit(p) as Param);
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) this.errors.push({ span: p.span, message: `duplicate parameter '${p.name}'` });
      seen.add(p.name);
    }
    let body: Stmt[];
    const exprNode = node(ctx, "expression");
    if (exprNode) {
      const e = this.expr(exprNode);
      body = [{ kind: "expr", expr: e, span: e.span }];
    } else body = this.stmts(node(ctx, "block"));
    const span = spanFrom(tokenSpan(tok(ctx, "Def")!), tokenSpan(tok(ctx, "RParen")!));
    return { kind: "def", name: name.image, nameSpan: tokenSpan(name), params, body, span };
  }

  param(ctx: Ctx): Param {
    const name = tok(ctx, "Identifier")!;
    const d = node(ctx, "expression");
    return { name: name.image, span: tokenSpan(name), default: d ? this.expr(d) : undefined };
  }

  ifStmt(ctx: Ctx): Stmt {
    const cond = this.expr(node(ctx, "expression"));
    const elseIf = node(ctx, "elseIf");
    const elseBlock = node(ctx, "else");
    const span = spanFrom(tokenSpan(tok(ctx, "If")!), cond.span);
    return {
      kind: "if",
      cond,
      then: this.stmts(node(ctx, "then")),
      else: elseIf ? [this.visit(elseIf) as Stmt] : elseBlock ? this.stmts(elseBlock) : undefined,
      span,
    };
  }

  block(ctx: Ctx): Stmt[] {
    return nodes(ctx, "statement").map((s) => this.visit(s) as Stmt);
  }

  /**
   * Precedence climbing over the flat chain: or (1) < and (2) < not (3) <
   * comparisons (4, not chained) < + - (5) < * / (6); all left-associative.
   */
  expression(ctx: Ctx): Expr {
    const operands = nodes(ctx, "operands");
    const ops = toks(ctx, "ops");
    let k = 0;
    const operand = (): Expr => {
      const o = operands[k++]!.children as Ctx;
      let e = this.postfix(o);
      const prefix = toks(o, "prefix");
      for (let i = prefix.length - 1; i >= 0; i--) {
        const t = prefix[i]!;
        const span = () => spanFrom(tokenSpan(t), e.span);
        if (t.image === "not") {
          e = climb(e, PREC_NOT + 1); // `not a < b` is not (a < b)
          e = { kind: "unary", op: "not", operand: e, span: span() };
        } else if (e.kind === "number") {
          // `-3` is a number literal (so it reads back as one in messages and --set values)
          e = { kind: "number", value: t.image === "-" ? -e.value : e.value, span: span() };
        } else e = { kind: "unary", op: t.image as "-" | "+", operand: e, span: span() };
      }
      return e;
    };
    const climb = (first: Expr, minPrec: number): Expr => {
      let left = first;
      let comparedAt: IToken | undefined;
      while (k - 1 < ops.length) {
        const op = ops[k - 1]!;
        const p = PREC[op.image]!;
        if (p < minPrec) break;
        if (p === PREC_CMP && comparedAt) this.errors.push({ span: tokenSpan(op), message: `comparisons cannot be chained: write 'a ${comparedAt.image} b and b ${op.image} c'` });
        const right = climb(operand(), p + 1);
        left = { kind: "binary", op: op.image as BinaryOp, left, right, opSpan: tokenSpan(op), span: spanFrom(left.span, right.span) };
        comparedAt = p === PREC_CMP ? op : undefined;
      }
      return left;
    };
    return climb(operand(), 0);
  }

  operand(): never {
    throw new Error("visited through expression");
  }

  /** An operand's atom with its calls, indexing and fields applied left to right. */
  private postfix(ctx: Ctx): Expr {
    let e = this.expr(node(ctx, "atom"));
    for (const s of nodes(ctx, "suffix")) {
      const c = s.children as Ctx;
      const end = tok(c, "RParen") ?? tok(c, "RBracket") ?? tok(c, "Identifier")!;
      const span = spanFrom(e.span, tokenSpan(end));
      if (s.name === "callSuffix") {
        e = { kind: "call", callee: e, args: nodes(c, "argument").map((a) => this.visit(a) as Arg), span };
      } else if (s.name === "attrSuffix") {
        const id = tok(c, "Identifier")!;
        e = { kind: "attr", target: e, name: id.image, nameSpan: tokenSpan(id), span };
      } else if (c.Colon) {
        const opt = (k: string) => (node(c, k) ? this.expr(node(c, k)) : undefined);
        e = { kind: "slice", target: e, start: opt("start"), stop: opt("stop"), step: opt("step"), span };
      } else if (node(c, "start")) {
        e = { kind: "index", target: e, index: this.expr(node(c, "start")), span };
      } else {
        this.errors.push({ span: spanFrom(tokenSpan(tok(c, "LBracket")!), tokenSpan(end)), message: "expected an index inside '[]'" });
      }
    }
    return e;
  }

  callSuffix(): never {
    throw new Error("visited through postfix");
  }
  indexSuffix(): never {
    throw new Error("visited through postfix");
  }
  attrSuffix(): never {
    throw new Error("visited through postfix");
  }

  argument(ctx: Ctx): Arg {
    const name = tok(ctx, "name");
    const value = this.expr(node(ctx, "expression"));
    if (!name) return { value, span: value.span };
    const nameSpan = tokenSpan(name);
    return { name: name.image, nameSpan, value, span: spanFrom(nameSpan, value.span) };
  }

  atom(ctx: Ctx): Expr {
    // an atom holds exactly one of these (grammar alternatives); the commonest first, as each miss is a dictionary lookup
    const t = (ctx.Identifier ?? ctx.NumberLit ?? ctx.StringLit ?? ctx.True ?? ctx.False ?? ctx.None)?.[0] as IToken | undefined;
    if (t) {
      const span = tokenSpan(t);
      switch (t.tokenType.name) {
        case "NumberLit": {
          const value = Number(t.image);
          if (!Number.isFinite(value)) this.errors.push({ span, message: `number ${t.image} is too large (not a finite 64-bit float)` });
          return { kind: "number", value, span };
        }
        case "StringLit":
          return { kind: "string", value: this.unescape(t), span };
        case "True":
          return { kind: "bool", value: true, span };
        case "False":
          return { kind: "bool", value: false, span };
        case "None":
          return { kind: "none", span };
        default:
          return { kind: "name", name: t.image, span };
      }
    }
    const inner = node(ctx, "expression");
    if (inner) {
      const e = this.expr(inner);
      return { ...e, span: spanFrom(tokenSpan(tok(ctx, "LParen")!), tokenSpan(tok(ctx, "RParen")!)) } as Expr;
    }
    return this.visit((node(ctx, "listExpr") ?? node(ctx, "dictExpr"))!);
  }

  private unescape(t: IToken): string {
    const body = t.image.slice(1, -1);
    return body.replace(/\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (m, e: string, at: number) => {
      if (e in ESCAPES) return ESCAPES[e]!;
      const hex = e.startsWith("u{") ? e.slice(2, -1) : e.length > 1 ? e.slice(1) : "";
      if (hex) {
        const code = parseInt(hex, 16);
        if (code <= 0x10ffff) return String.fromCodePoint(code);
      }
      const span = tokenSpan(t);
      this.errors.push({ span: { offset: span.offset + 1 + at, end: span.offset + 1 + at + m.length, line: span.line, col: span.col + 1 + at }, message: `unknown escape sequence '${m}'` });
      return m;
    });
  }

  listExpr(ctx: Ctx): Expr {
    const items = nodes(ctx, "items").map((i) => this.expr(i));
    const clauses = nodes(ctx, "compClause").map((c) => this.visit(c) as CompClause);
    const span = spanFrom(tokenSpan(tok(ctx, "LBracket")!), tokenSpan(tok(ctx, "RBracket")!));
    if (clauses.length > 0) return { kind: "comprehension", element: items[0]!, clauses, span };
    return { kind: "list", items, span };
  }

  compClause(ctx: Ctx): CompClause {
    const id = tok(ctx, "Identifier");
    if (id) return { kind: "for", name: id.image, nameSpan: tokenSpan(id), iter: this.expr(node(ctx, "iter")) };
    return { kind: "if", cond: this.expr(node(ctx, "cond")) };
  }

  dictExpr(ctx: Ctx): Expr {
    const entries = nodes(ctx, "entry").map((e) => this.visit(e) as DictEntry & { quoted: boolean });
    const record = entries.length > 0 && entries.every((e) => !e.quoted);
    const seen = new Set<string>();
    for (const e of entries) {
      if (entries.length > 0 && e.quoted === record) this.errors.push({ span: e.keySpan, message: "a dict's keys are all strings ({\"k\": v}) or all names ({k: v}), not a mix" });
      if (seen.has(e.key)) this.errors.push({ span: e.keySpan, message: `duplicate key '${e.key}'` });
      seen.add(e.key);
    }
    return { kind: "dict", entries: entries.map(({ key, keySpan, value }) => ({ key, keySpan, value })), record, span: spanFrom(tokenSpan(tok(ctx, "LCurly")!), tokenSpan(tok(ctx, "RCurly")!)) };
  }

  entry(ctx: Ctx): DictEntry & { quoted: boolean } {
    const k = tok(ctx, "key")!;
    const quoted = k.tokenType.name === "StringLit";
    return { key: quoted ? this.unescape(k) : k.image, keySpan: tokenSpan(k), value: this.expr(node(ctx, "expression")), quoted };
  }
}

const builder = new AstBuilder();

/** Build the AST of one parsed statement CST; meaning-level errors go to `errors`. */
export function buildStatement(cst: CstNode, errors: AstError[]): Stmt {
  builder.errors = errors;
  try {
    return builder.visit(cst) as Stmt;
  } finally {
    builder.errors = [];
  }
}
