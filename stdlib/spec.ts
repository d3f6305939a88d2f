/**
 * Functions of the merge language are data: a FunctionSpec declares the name,
 * parameters (types, defaults, ranges, aliases), doc and an example, plus the
 * compute. The checker, completions, `inspect`, docs and explain all read the
 * same specs (stdlib/registry.ts lists them explicitly).
 */
import type { SourceLocation } from "../core/errors.js";
import type { MimeBundle, Value } from "../core/values.js";

export type ParamType =
  | "number"
  | "int"
  | "string"
  | "bool"
  | "model"
  | "models" // a list of models (a single model is accepted as a list of one)
  | "list"
  | "dict"
  | "schedule" // layers([...]) or match({...})
  | "table"
  | "function"
  | "any";

export interface Range {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export interface ParamSpec {
  name: string;
  /** Other spellings: `lambda` for `λ`, `density` for `k`. */
  aliases?: string[];
  /** Accepted types; a scalar param that is `schedulable` also takes a schedule. */
  type: ParamType | ParamType[];
  /** Absent and not `required`: the parameter is optional with no default (undefined). */
  default?: Value;
  required?: boolean;
  range?: Range;
  choices?: string[];
  /** May be layers([...]) / match({...}), resolved per tensor. */
  schedulable?: boolean;
  /** May be a list with one value per model (e.g. weights). */
  perModel?: boolean;
  /** Data, not a setting: NaN and ±Inf are values here (a gap in a plot, a failed run's score), not an error. */
  data?: boolean;
  /** Collects all remaining positional arguments (e.g. `print(a, b, c)`). */
  rest?: boolean;
  doc: string;
}

export type Category = "method" | "block" | "io" | "analysis" | "eval" | "plot" | "schedule" | "util";

/** What a call may use of its surroundings. */
export interface CallContext {
  /** Relative paths resolve against this (the notebook's folder in Jupyter). */
  cwd: string;
  /** check/--dry-run: validate from headers, read no tensor data, write nothing. */
  dryRun: boolean;
  signal?: AbortSignal;
  stdout(text: string): void;
  /** Warnings (`warn`): the cell's stderr stream, the CLI's process.stderr. Absent: write to stdout. */
  stderr?(text: string): void;
  /** `clear_output(wait)`: clear the notebook cell's output (a clear_output message). Absent: a no-op. */
  clearOutput?(wait: boolean): void;
  /** Rich output; `displayId` + `update` give update_display_data (progress bars). */
  display(bundle: MimeBundle, opts?: { displayId?: string; update?: boolean }): void;
  /** Where the call is in the script, for messages. */
  loc?: SourceLocation;
  /** Engine options: worker count, chunk size (elements), seed override. */
  options: RunOptions;
}

export interface RunOptions {
  workers?: number;
  chunkSize?: number;
  quiet?: boolean;
  /** Scale-out (`mergelab run --shard I/N`): save() writes only shard `index` of `count` (engine/shard.ts). */
  shard?: { index: number; count: number };
  /** What the model card (README.md) shows as the recipe: the script, and the mergekit config it was translated from. */
  recipe?: { text: string; mergekitConfig?: { file: string; text: string }; overrides?: ReadonlyArray<readonly [string, string]> };
  /** No Hugging Face Hub downloads (`--offline`; HF_HUB_OFFLINE=1 does the same): ids resolve from the cache only. */
  offline?: boolean;
}

/** Arguments after binding: keyed by the parameter's canonical name, defaults filled. */
export type Args = Record<string, Value | undefined>;

export interface FunctionSpec {
  name: string;
  aliases?: string[];
  category: Category;
  /** One paragraph: what it computes (the formula) and when to use it. */
  doc: string;
  /** A runnable merge-language line. */
  example: string;
  paper?: { title: string; url: string };
  params: ParamSpec[];
  returns: ParamType;
  call(args: Args, ctx: CallContext): Value | Promise<Value>;
}
