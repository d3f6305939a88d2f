/**
 * The language's runtime values that every layer shares: dicts, tables, and
 * what a notebook can show (a MIME bundle). Models (engine/), schedules
 * (engine/param-schedule.ts), figures (stdlib/plot.ts) and closures (dsl/)
 * are class instances defined where they are built.
 */

/** Functions as values (closures, references to registered functions) carry this mark. */
export const CALLABLE: unique symbol = Symbol("mergelab.callable");
export function isCallable(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as { [CALLABLE]?: boolean })[CALLABLE] === true;
}

/**
 * What a check (dry run) returns where the value depends on data it does not
 * read: an analysis' rows, a results file the script writes first. The checker
 * treats it like a value that already failed (dsl/values.ts POISON) minus the
 * error: every use of it is unknown too, and nothing is reported, so a check
 * never reports an error the run would not.
 */
class UnknownValue {
  toString(): string {
    return "<unknown until the data is read>";
  }
}
export const UNKNOWN: object = Object.freeze(new UnknownValue());

/** A dict (`{"mlp": 0.1}`) or record (`{k: 0.2, acc: 0.91}`) value. Keys keep insertion order. */
export class Dict {
  constructor(readonly entries: Map<string, Value> = new Map()) {}
  get(key: string): Value | undefined {
    return this.entries.get(key);
  }
}

/** A results table: what sweeps collect, what `plot` and notebooks display. */
export class Table {
  constructor(
    readonly columns: string[],
    readonly rows: Value[][],
  ) {}
}

/** Anything a notebook can show implements this (model summary, table, figure, plan). */
export type MimeBundle = Record<string, unknown>;
export interface Displayable {
  toMimeBundle(): MimeBundle;
}
export function isDisplayable(v: unknown): v is Displayable {
  return typeof v === "object" && v !== null && typeof (v as Displayable).toMimeBundle === "function";
}

/**
 * Runtime values. number/string/bool/none are JS primitives, a list is a JS
 * array, the rest are class instances (ModelValue and Schedule live in
 * engine and stdlib; Figure in stdlib/plot; closures in dsl/).
 */
export type Value = number | string | boolean | null | Value[] | Dict | Table | object;
