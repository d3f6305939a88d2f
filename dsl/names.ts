/**
 * Name check of a user function at its definition: every name its body uses
 * must be a parameter, a name the body assigns, a variable visible where the
 * function is defined, or a registered function. (Types are checked when it
 * is called, by running it.)
 */
import type { Expr, Stmt } from "./ast.js";
import type { Span } from "./diagnostics.js";

export interface NameError {
  name: string;
  span: Span;
  /** Names local to the function (for "did you mean"). */
  local: string[];
}

interface Outer {
  has(name: string): boolean;
}

export function checkNames(def: Extract<Stmt, { kind: "def" }>, outer: Outer, isFunction: (n: string) => boolean): NameError[] {
  const local = new Set<string>([def.name, ...def.params.map((p) => p.name)]);
  collectAssigned(def.body, local);
  const errors: NameError[] = [];
  const known = (n: string, bound: Set<string>) => bound.has(n) || local.has(n) || outer.has(n) || isFunction(n);
  const visitExpr = (e: Expr | undefined, bound: Set<string>): void => {
    if (!e) return;
    switch (e.kind) {
      case "name":
        if (!known(e.name, bound)) errors.push({ name: e.name, span: e.span, local: [...local, ...bound] });
        return;
      case "list":
        e.items.forEach((x) => visitExpr(x, bound));
        return;
      case "dict":
        e.entries.forEach((x) => visitExpr(x.value, bound));
        return;
      case "comprehension": {
        const inner = new Set(bound);
        for (const c of e.clauses) {
          if (c.kind === "for") {
            visitExpr(c.iter, inner);
            inner.add(c.name);
          } else visitExpr(c.cond, inner);
        }
        visitExpr(e.element, inner);
        return;
      }
      case "call":
        visitExpr(e.callee, bound);
        e.args.forEach((a) => visitExpr(a.value, bound));
        return;
      case "index":
        visitExpr(e.target, bound);
        visitExpr(e.index, bound);
        return;
      case "slice":
        [e.target, e.start, e.stop, e.step].forEach((x) => visitExpr(x, bound));
        return;
      case "attr":
        visitExpr(e.target, bound);
        return;
      case "unary":
        visitExpr(e.operand, bound);
        return;
      case "binary":
        visitExpr(e.left, bound);
        visitExpr(e.right, bound);
        return;
      default:
        return;
    }
  };
  const visitStmt = (s: Stmt, bound: Set<string>): void => {
    switch (s.kind) {
      case "expr":
        return visitExpr(s.expr, bound);
      case "assign":
        return visitExpr(s.value, bound);
      case "for":
        visitExpr(s.iter, bound);
        return s.body.forEach((b) => visitStmt(b, bound));
      case "if":
        visitExpr(s.cond, bound);
        s.then.forEach((b) => visitStmt(b, bound));
        return s.else?.forEach((b) => visitStmt(b, bound));
      case "def": {
        const inner = new Set([...bound, ...s.params.map((p) => p.name)]);
        collectAssigned(s.body, inner);
        s.params.forEach((p) => visitExpr(p.default, bound));
        return s.body.forEach((b) => visitStmt(b, inner));
      }
    }
  };
  def.params.forEach((p) => visitExpr(p.default, new Set()));
  def.body.forEach((s) => visitStmt(s, new Set()));
  return errors;
}

function collectAssigned(body: readonly Stmt[], into: Set<string>): void {
  for (const s of body) {
    if (s.kind === "assign" || s.kind === "def") into.add(s.name);
    if (s.kind === "for") {
      into.add(s.name);
      collectAssigned(s.body, into);
    }
    if (s.kind === "if") {
      collectAssigned(s.then, into);
      collectAssigned(s.else ?? [], into);
    }
  }
}
