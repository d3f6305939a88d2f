/**
 * Lists as sequences, and statistics over lists of numbers.
 *
 * `+` between lists is element-wise (it broadcasts: `experts - base`,
 * `[0.3, 0.7] * [2, 2]`), so joining lists has its own names:
 *
 *   concat([1, 2], [3])      → [1, 2, 3]
 *   append(experts, extra)   → the list with one more item at the end
 *   std([0.81, 0.79, 0.84])  → sample standard deviation (n − 1)
 *
 * All return new lists; nothing is changed in place.
 */
import { MergelabError } from "../core/errors.js";
import type { Value } from "../core/values.js";
import type { Args, FunctionSpec } from "./spec.js";

function numbers(name: string, v: Value | undefined): number[] {
  if (!Array.isArray(v)) throw new MergelabError(`${name}() needs a list of numbers`, { param: "xs" });
  if (!v.every((x) => typeof x === "number")) throw new MergelabError(`${name}() needs numbers, got ${v.map((x) => typeof x).find((t) => t !== "number")}`, { param: "xs" });
  return v as number[];
}

/** Sample standard deviation (Bessel's n − 1); NaN for fewer than two values. */
export function std(xs: readonly number[], ddof = 1): number {
  const n = xs.length;
  if (n - ddof <= 0) return NaN;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - ddof));
}

const concatSpec: FunctionSpec = {
  name: "concat",
  category: "util",
  doc:
    "Join lists end to end: concat([1, 2], [3]) = [1, 2, 3]. (`+` between two lists adds them item by item — " +
    "it broadcasts — so it never joins them.)",
  example: "all_models = concat(experts, [base])",
  params: [{ name: "lists", type: "list", rest: true, data: true, doc: "the lists to join, in order" }],
  returns: "list",
  call: (a: Args) => {
    const lists = a.lists as Value[];
    lists.forEach((l, i) => {
      if (!Array.isArray(l)) throw new MergelabError(`concat: argument ${i + 1} is not a list (wrap a single value: [x])`, { param: "lists", argIndex: i });
    });
    return (lists as Value[][]).flat(1);
  },
};

const appendSpec: FunctionSpec = {
  name: "append",
  category: "util",
  doc: "A new list: `xs` with `x` added at the end (xs itself is unchanged). append([1, 2], 3) = [1, 2, 3]; append of a list adds it as one item.",
  example: "models = append(experts, base)",
  params: [
    { name: "xs", type: "list", required: true, data: true, doc: "the list" },
    { name: "x", type: "any", required: true, data: true, doc: "the item to add" },
  ],
  returns: "list",
  call: (a: Args) => [...(a.xs as Value[]), a.x as Value],
};

const stdSpec: FunctionSpec = {
  name: "std",
  category: "util",
  doc: "Standard deviation of a list of numbers: the sample one (divides by n − 1, as numpy's std(ddof=1)); ddof=0 for the population one. NaN for fewer than ddof + 1 values.",
  example: "std([r.score for r in records(results)])",
  params: [
    { name: "xs", type: "list", required: true, data: true, doc: "numbers" },
    { name: "ddof", type: "int", default: 1, range: { min: 0, max: 1 }, doc: "1: sample (n − 1); 0: population (n)" },
  ],
  returns: "number",
  call: (a: Args) => std(numbers("std", a.xs), a.ddof as number),
};

export const specs: FunctionSpec[] = [concatSpec, appendSpec, stdSpec];
