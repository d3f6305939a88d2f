/**
 * Runtime values owned by the language: user functions (Closure), references
 * to registered functions (FunctionRef), and the error value (POISON) a
 * failed expression evaluates to in check mode so that one mistake is
 * reported once, not again at every use.
 */
import type { FunctionSpec } from "../stdlib/spec.js";
import type { MimeBundle, Value } from "../core/values.js";
import { CALLABLE, UNKNOWN } from "../core/values.js";
import type { Param, Stmt } from "./ast.js";

/** The value of an expression that already produced a diagnostic. Operations on it yield it silently. */
class ErrorValue {
  toString(): string {
    return "<error>";
  }
}
export const POISON: Value = Object.freeze(new ErrorValue());
/** POISON, or a dry run's UNKNOWN (data not read): both propagate silently. */
export const isPoison = (v: unknown): boolean => v === POISON || v === UNKNOWN;

/** Calls a closure (set by the interpreter that created it). */
export type Invoker = (fn: Closure, positional: Value[], keywords: Record<string, Value>) => Promise<Value>;

/** A user-defined function: `def name(params) = body`. Captures the scope it was defined in. */
export class Closure {
  readonly [CALLABLE] = true;
  constructor(
    readonly name: string,
    readonly params: readonly Param[],
    readonly body: readonly Stmt[],
    readonly scope: unknown,
    readonly source: string,
    private readonly invoker: Invoker,
  ) {}
  /** Call from TypeScript (e.g. a spec taking a `function` argument). */
  call(positional: Value[], keywords: Record<string, Value> = {}): Promise<Value> {
    return this.invoker(this, positional, keywords);
  }
  signature(): string {
    return `${this.name}(${this.params.map((p) => p.name + (p.default ? "=…" : "")).join(", ")})`;
  }
  toString(): string {
    return `<function ${this.signature()}>`;
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

/** A registered function used as a value (`f = ties`). */
export class FunctionRef {
  readonly [CALLABLE] = true;
  constructor(readonly spec: FunctionSpec) {}
  toString(): string {
    return `<function ${this.spec.name}>`;
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

export const isFunction = (v: unknown): v is Closure | FunctionRef => v instanceof Closure || v instanceof FunctionRef;
