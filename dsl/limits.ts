/**
 * Limits that turn would-be crashes (stack overflows, "Invalid string
 * length", an exhausted heap) and would-be hangs (a check that runs an
 * endless loop) into clear errors at the offending line.
 *
 *  - nesting: at most MAX_BRACKETS open brackets and MAX_PREFIX prefix
 *    operators in a row (checked on tokens, before the parser recurses), and
 *    expressions at most MAX_EXPR_DEPTH deep (checked on the AST);
 *  - values: strings of at most MAX_STRING characters, lists nested at most
 *    MAX_VALUE_DEPTH deep, at most MAX_ELEMENTS elements in one list value
 *    (nested lists counted);
 *  - the dry run (check, explain, the first pass of run) evaluates at most
 *    DRY_RUN_STEPS steps (statements, loop iterations, calls); a real run is
 *    unbounded but yields to the event loop every YIELD_EVERY steps, so Ctrl-C,
 *    a notebook interrupt and the kernel's heartbeat are served.
 */
import type { IToken } from "chevrotain";
import { MergelabError } from "../core/errors.js";
import { Dict, type Value } from "../core/values.js";

export const MAX_BRACKETS = 100;
export const MAX_PREFIX = 100;
export const MAX_EXPR_DEPTH = 200;
export const MAX_STRING = 10_000_000;
export const MAX_VALUE_DEPTH = 1000;
export const MAX_ELEMENTS = 20_000_000;
export const DRY_RUN_STEPS = 200_000;
export const YIELD_EVERY = 2048;

/** A limit was hit: reported once at its location; not retried statement by statement in a check. */
export class LimitError extends MergelabError {
  constructor(message: string, details: ConstructorParameters<typeof MergelabError>[1] = {}) {
    super(message, details);
    this.name = "LimitError";
  }
}

/** The first token where brackets nest deeper than MAX_BRACKETS or prefix operators repeat more than MAX_PREFIX times. */
export function nestingProblem(tokens: readonly IToken[]): { token: IToken; message: string } | undefined {
  let depth = 0;
  let prefixRun = 0;
  let prev: IToken | undefined;
  for (const t of tokens) {
    const s = t.image;
    if (s === "(" || s === "[" || s === "{") {
      if (++depth > MAX_BRACKETS) return { token: t, message: `brackets nested more than ${MAX_BRACKETS} deep; split the expression with names` };
    } else if (s === ")" || s === "]" || s === "}") depth = Math.max(0, depth - 1);
    const prefix = (s === "-" || s === "+" || s === "not") && (!prev || /^[-+*/=<>!(\[{,:]$|^(not|and|or|in|==|!=|<=|>=)$/.test(prev.image));
    prefixRun = prefix ? prefixRun + 1 : 0;
    if (prefixRun > MAX_PREFIX) return { token: t, message: `more than ${MAX_PREFIX} prefix operators in a row` };
    if (s !== "") prev = t;
  }
  return undefined;
}

/** Depth of an AST (any object with `kind`), computed without recursion; stops counting past `limit`. */
export function astDepth(root: object, limit = MAX_EXPR_DEPTH): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length) {
    const [node, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const key in node as Record<string, unknown>) {
      if (key === "span" || key === "nameSpan") continue;
      const v = (node as Record<string, unknown>)[key];
      if (Array.isArray(v)) {
        for (const x of v) if (x && typeof x === "object") stack.push([x, (x as { kind?: unknown }).kind ? d + 1 : d]);
      } else if (v && typeof v === "object") stack.push([v, (v as { kind?: unknown }).kind ? d + 1 : d]);
    }
  }
  return max;
}

const depths = new WeakMap<object, number>();
const sizes = new WeakMap<object, number>();

/** Nesting depth of a value's lists and dicts (1 for a flat list), memoized; 0 for scalars. */
export function valueDepth(v: Value): number {
  if (!Array.isArray(v) && !(v instanceof Dict)) return 0;
  const known = depths.get(v);
  if (known !== undefined) return known;
  // iterative post-order, so a deep value built elsewhere cannot overflow the stack here
  const stack: Array<[object, boolean]> = [[v, false]];
  while (stack.length) {
    const [x, done] = stack.pop()!;
    const items = Array.isArray(x) ? (x as Value[]) : [...(x as Dict).entries.values()];
    if (done) {
      let d = 0;
      for (const i of items) if (Array.isArray(i) || i instanceof Dict) d = Math.max(d, depths.get(i) ?? 0);
      depths.set(x, d + 1);
      continue;
    }
    if (depths.has(x)) continue;
    stack.push([x, true]);
    for (const i of items) if ((Array.isArray(i) || i instanceof Dict) && !depths.has(i)) stack.push([i, false]);
  }
  return depths.get(v)!;
}

/** Elements of a list value, nested lists and dicts counted (memoized). */
export function valueSize(v: Value): number {
  if (!Array.isArray(v) && !(v instanceof Dict)) return 0;
  const known = sizes.get(v);
  if (known !== undefined) return known;
  let n = 0;
  const items = Array.isArray(v) ? v : [...v.entries.values()];
  for (const i of items) n += 1 + (Array.isArray(i) || i instanceof Dict ? (sizes.get(i) ?? (valueDepth(i) < 64 ? valueSize(i) : 0)) : 0);
  sizes.set(v, n);
  return n;
}

/** Throws a LimitError if a new list/dict value nests too deep or holds too many elements. */
export function checkValue(v: Value, loc?: MergelabError["details"]["loc"]): void {
  if (valueDepth(v) > MAX_VALUE_DEPTH) throw new LimitError(`lists nested more than ${MAX_VALUE_DEPTH} deep`, { loc });
  if (valueSize(v) > MAX_ELEMENTS) throw new LimitError(`a list of more than ${MAX_ELEMENTS.toLocaleString("en-US")} elements (nested lists counted): out of memory`, { loc });
}

/** Deep equality of language values without recursion (lists, dicts, scalars; anything else by identity). */
export function valuesEqual(a: Value, b: Value): boolean {
  const stack: Array<[Value, Value]> = [[a, b]];
  while (stack.length) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) stack.push([x[i] as Value, y[i] as Value]);
    } else if (x instanceof Dict && y instanceof Dict) {
      if (x.entries.size !== y.entries.size) return false;
      for (const [k, v] of x.entries) {
        if (!y.entries.has(k)) return false;
        stack.push([v, y.entries.get(k)!]);
      }
    } else return false;
  }
  return true;
}
