/**
 * The TypeScript API of the language: parse, check, plan, run; a Session
 * holding bindings across calls (what a notebook kernel drives); and the
 * `mx` tagged template.
 *
 * Running is checking first: the code is evaluated in dry-run mode (models
 * are lazy plans over checkpoint headers, consumers validate without reading
 * tensor data, nothing is written or printed) collecting every diagnostic;
 * only a clean check is then run for real.
 */
import { MergelabError } from "../core/errors.js";
import { tf } from "../core/runtime.js";
import { isModel, modelFromTensors, type ModelValue } from "../engine/model.js";
import { explainPlan, type Plan } from "../engine/plan.js";
import type { CallContext, RunOptions } from "../stdlib/spec.js";
import type { Value } from "../core/values.js";
import { Dict } from "../core/values.js";
import type { ScriptHooks } from "../stdlib/builtins.js";
import { parse } from "./parse.js";
import { Interpreter, Scope } from "./interpreter.js";
import { ScriptError, type Diagnostic } from "./diagnostics.js";
import { completeAt, inspectAt, isCompleteCode } from "./completion.js";
import { notebookDisplay } from "../core/display.js";

export interface SessionOptions {
  /** Relative paths resolve against this (default: process.cwd()). */
  cwd?: string;
  stdout?: (text: string) => void;
  /** Where warn() writes (default: process.stderr). */
  stderr?: (text: string) => void;
  /** What clear_output() calls (default: nothing — only a notebook has output to clear). */
  clearOutput?: (wait: boolean) => void;
  display?: CallContext["display"];
  signal?: AbortSignal;
  options?: RunOptions;
  /** Only check: validate from headers, bind the (lazy) results, write nothing. */
  dryRun?: boolean;
  /** Engine progress while save() runs. */
  progress?: ScriptHooks["progress"];
  /** Called when a save() finishes (instead of its "saved …" line on stdout). */
  onSaved?: ScriptHooks["onSaved"];
}

export interface ExecuteOptions {
  file?: string;
  signal?: AbortSignal;
  /** `--set name=value`: replaces top-level assignments to these names. */
  overrides?: ReadonlyMap<string, Value>;
}

export interface ExecuteResult {
  /** The value of a trailing expression (absent when there is none or it is none). */
  value?: Value;
  /** The models save() was called with, in order. */
  saved: ScriptHooks["saved"];
}

export class Session {
  readonly scope = new Scope();
  /** The code run so far, in order: the default recipe of a saved model's card. */
  private readonly history: string[] = [];
  constructor(readonly opts: SessionOptions = {}) {}

  get cwd(): string {
    return this.opts.cwd ?? process.cwd();
  }

  /** Names bound in the session (hidden `__` names excluded). */
  bindings(): string[] {
    return [...this.scope.vars.keys()].filter((n) => !n.startsWith("__"));
  }
  get(name: string): Value | undefined {
    return this.scope.lookup(name);
  }
  set(name: string, value: unknown): void {
    this.scope.set(name, toValue(value));
  }

  private context(dryRun: boolean, hooks: ScriptHooks, signal?: AbortSignal, code?: string): CallContext & { hooks: ScriptHooks } {
    const options = this.opts.options ?? {};
    return {
      cwd: this.cwd,
      dryRun,
      signal: signal ?? this.opts.signal,
      stdout: dryRun ? () => {} : (this.opts.stdout ?? ((t: string) => void process.stdout.write(t))),
      stderr: dryRun ? () => {} : (this.opts.stderr ?? ((t: string) => void process.stderr.write(t))),
      clearOutput: dryRun ? () => {} : (this.opts.clearOutput ?? (() => {})),
      display: dryRun ? () => {} : (this.opts.display ?? (() => {})),
      options: code === undefined || options.recipe ? options : { ...options, recipe: { text: this.recipe(code) } },
      hooks,
    };
  }

  /** Every diagnostic of `code` (syntax, names, arguments, checkpoint headers); binds nothing. */
  async check(code: string, eo: ExecuteOptions = {}): Promise<{ diagnostics: Diagnostic[]; value?: Value; saved: ScriptHooks["saved"]; unusedOverrides: string[] }> {
    const file = eo.file ?? "<input>";
    const { program, diagnostics } = parse(code, file);
    const hooks: ScriptHooks = { saved: [] };
    if (diagnostics.length > 0) return { diagnostics, saved: [], unusedOverrides: [] };
    const interp = new Interpreter({ file, source: code, ctx: this.context(true, hooks, eo.signal), keepGoing: true, overrides: eo.overrides });
    const value = await interp.run(program, this.opts.dryRun ? this.scope : new Scope(this.scope));
    const unusedOverrides = [...(eo.overrides?.keys() ?? [])].filter((k) => !interp.usedOverrides.has(k));
    return { diagnostics: interp.diagnostics, value, saved: hooks.saved, unusedOverrides };
  }

  /**
   * Check, then run `code`, keeping its bindings. Throws a ScriptError holding
   * every diagnostic (`rendered` has them with source and caret lines).
   */
  async execute(code: string, eo: ExecuteOptions = {}): Promise<ExecuteResult> {
    const checked = await this.check(code, eo);
    if (checked.diagnostics.length > 0) throw new ScriptError(checked.diagnostics, code);
    if (this.opts.dryRun) return { value: present(checked.value), saved: checked.saved };
    const file = eo.file ?? "<input>";
    const { program } = parse(code, file);
    const hooks: ScriptHooks = { saved: [], progress: this.opts.progress, onSaved: this.opts.onSaved };
    const interp = new Interpreter({ file, source: code, ctx: this.context(false, hooks, eo.signal, code), keepGoing: false, overrides: eo.overrides });
    try {
      const value = await interp.run(program, this.scope);
      this.history.push(code);
      return { value: present(value), saved: hooks.saved };
    } catch (e) {
      if (e instanceof MergelabError && e.loc && !(e instanceof ScriptError)) throw new ScriptError([{ loc: e.loc, message: e.message }], code);
      throw e;
    }
  }

  /**
   * The recipe a save() in `code` records when options.recipe is not given
   * (notebooks, mx): every cell run so far, in order, then `code` — what
   * re-creates the session's bindings.
   */
  private recipe(code: string): string {
    return [...this.history, code].map((c) => c.trimEnd()).join("\n\n") + "\n";
  }

  /** The plan of every saved model and of a trailing model expression (dry run). */
  async plan(code: string, eo: ExecuteOptions = {}): Promise<Plan> {
    const checked = await this.check(code, eo);
    if (checked.diagnostics.length > 0) throw new ScriptError(checked.diagnostics, code);
    const models = planRoots(checked.saved.map((s) => s.model), checked.value);
    if (models.length === 0) throw new MergelabError("nothing to plan: the script saves no model and does not end with a model expression");
    return explainPlan(models, { workers: this.opts.options?.workers, chunkSize: this.opts.options?.chunkSize });
  }

  complete(code: string, cursorPos: number) {
    return completeAt(this, code, cursorPos);
  }
  inspect(code: string, cursorPos: number): string | undefined {
    return inspectAt(this, code, cursorPos);
  }
  isComplete(code: string): "complete" | "incomplete" | "invalid" {
    return isCompleteCode(code);
  }
}

/** Saved models plus a trailing model (or list of models), without repeats. */
export function planRoots(saved: ModelValue[], value: Value | undefined): ModelValue[] {
  const roots = [...saved];
  const tail = Array.isArray(value) ? value : [value];
  for (const v of tail) if (isModel(v) && !roots.includes(v)) roots.push(v);
  return roots;
}

function present(v: Value | undefined): Value | undefined {
  return v === null ? undefined : v;
}

// ---------------------------------------------------------------- module-level API

export interface ScriptOptions extends SessionOptions, ExecuteOptions {}

export { parse };

/** Every diagnostic of a script (empty when it checks). Reads headers only. */
export async function check(text: string, opts: ScriptOptions = {}): Promise<Diagnostic[]> {
  return (await new Session(opts).check(text, opts)).diagnostics;
}

export async function plan(text: string, opts: ScriptOptions = {}): Promise<Plan> {
  return new Session(opts).plan(text, opts);
}

export async function run(text: string, opts: ScriptOptions = {}): Promise<ExecuteResult> {
  return new Session(opts).execute(text, opts);
}

// ---------------------------------------------------------------- TS values → language values

/** A TypeScript value as a language value: numbers, strings, arrays, models, Record<string, tf.Tensor>, tfjs-layers models. */
export function toValue(v: unknown): Value {
  if (v === undefined || v === null) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(toValue);
  if (isModel(v)) return v;
  if (typeof v !== "object") throw new MergelabError(`cannot use a ${typeof v} in the merge language`);
  if (isLayersModel(v)) {
    const record: Record<string, tf.Tensor> = {};
    for (const w of v.weights) record[w.originalName ?? w.name] = w.read();
    return modelFromTensors(record, v.name ?? "<layers model>");
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > 0 && entries.every(([, t]) => t instanceof tf.Tensor)) return modelFromTensors(v as Record<string, tf.Tensor>);
    return new Dict(new Map(entries.map(([k, x]) => [k, toValue(x)])));
  }
  return v as Value; // Dict, Table, Schedule, Closure, Figure…: already language values
}

interface LayersModelLike {
  name?: string;
  weights: Array<{ name: string; originalName?: string; read(): tf.Tensor }>;
  getWeights(): unknown;
}
function isLayersModel(v: object): v is LayersModelLike {
  const m = v as Partial<LayersModelLike>;
  return typeof m.getWeights === "function" && Array.isArray(m.weights);
}

// ---------------------------------------------------------------- mx`...`

export type Mx = ((strings: TemplateStringsArray, ...values: unknown[]) => Promise<Value | undefined>) & { session: Session };

let hidden = 0;

/**
 * A tagged template over `session`: each `${}` is bound to a hidden variable
 * (never spliced into the text), so models, arrays and numbers pass as values.
 */
export function createMx(session: Session = new Session()): Mx {
  const mx = async (strings: TemplateStringsArray, ...values: unknown[]) => {
    const names: string[] = [];
    let code = strings[0] ?? "";
    values.forEach((v, i) => {
      const name = `__mx${hidden++}`;
      session.scope.set(name, toValue(v));
      names.push(name);
      code += name + (strings[i + 1] ?? "");
    });
    try {
      return (await session.execute(code, { file: "<mx>" })).value;
    } finally {
      for (const n of names) session.scope.vars.delete(n);
    }
  };
  return Object.assign(mx, { session });
}

/** The default `mx`, over a session rooted at process.cwd(). */
// (rich output — e.g. save's progress bar — reaches a tslab notebook; elsewhere display is a no-op)
export const mx: Mx = createMx(new Session({ display: notebookDisplay }));

