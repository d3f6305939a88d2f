/**
 * The interpreter, which is also the checker: a check is a run with
 * `ctx.dryRun` set, where models are lazy plans built from checkpoint headers
 * and consumers (save, evaluate, analysis) validate without reading tensor
 * data. In check mode (`keepGoing`) an error is recorded, the failed value
 * becomes POISON (which suppresses follow-on errors), and the run goes on so
 * that one check reports every problem.
 */
import { MergelabError, InterruptedError } from "../core/errors.js";
import { combine, isModel, type ModelValue } from "../engine/model.js";
import { lookup, allNames } from "../stdlib/registry.js";
import type { CallContext, FunctionSpec } from "../stdlib/spec.js";
import type { Value } from "../core/values.js";
import { Dict, Table } from "../core/values.js";
import type { Arg, Expr, Program, Stmt } from "./ast.js";
import { bindCall, type ArgValue } from "./bind.js";
import { locOf, type Diagnostic, type Span } from "./diagnostics.js";
import { didYouMean } from "../core/suggest.js";
import { Closure, FunctionRef, POISON, isFunction, isPoison } from "./values.js";
import { describeValue } from "../stdlib/check.js";
import { keywords } from "./tokens.js";
import { checkNames } from "./names.js";
import { checkValue, DRY_RUN_STEPS, LimitError, MAX_ELEMENTS, MAX_STRING, valueSize, valuesEqual, YIELD_EVERY } from "./limits.js";

/** Variables of one function call, loop-free block or the whole session. */
export class Scope {
  readonly vars = new Map<string, Value>();
  constructor(readonly parent?: Scope) {}
  lookup(name: string): Value | undefined {
    return this.vars.has(name) ? this.vars.get(name) : this.parent?.lookup(name);
  }
  has(name: string): boolean {
    return this.vars.has(name) || (this.parent?.has(name) ?? false);
  }
  set(name: string, v: Value): void {
    this.vars.set(name, v);
  }
  names(): string[] {
    return [...new Set([...this.vars.keys(), ...(this.parent?.names() ?? [])])];
  }
}

export interface InterpreterOptions {
  file: string;
  source: string;
  ctx: CallContext;
  /** Check mode: record errors and go on (POISON values) instead of stopping at the first. */
  keepGoing: boolean;
  /** `--set name=value`: replaces the value of top-level assignments to `name`. */
  overrides?: ReadonlyMap<string, Value>;
}

const MAX_DEPTH = 200;

export class Interpreter {
  readonly diagnostics: Diagnostic[] = [];
  readonly usedOverrides = new Set<string>();
  private depth = 0;
  /** Evaluation steps so far (statements, loop iterations, calls): bounded in a dry run, yields in a real one. */
  private steps = 0;

  constructor(private readonly opts: InterpreterOptions) {}

  /** Run a program in `scope`; the value of a trailing expression statement is returned. */
  async run(program: Program, scope: Scope): Promise<Value | undefined> {
    let last: Value | undefined;
    for (const [i, stmt] of program.body.entries()) {
      last = undefined;
      let value: Value | undefined;
      try {
        value = await this.guardStmt(stmt, scope, true);
      } catch (e) {
        // a limit stops the whole check (one diagnostic), not each statement after it
        if (!(e instanceof LimitError) || !this.opts.keepGoing) throw e;
        this.note({ loc: e.details.loc ?? locOf(stmt.span, this.opts.file), message: e.message });
        return undefined;
      }
      if (i === program.body.length - 1 && stmt.kind === "expr") last = value;
    }
    return last;
  }

  /**
   * One evaluation step. A dry run stops after DRY_RUN_STEPS (a check must
   * end); every YIELD_EVERY steps the event loop runs (Ctrl-C, a notebook's
   * interrupt and heartbeat) and an interrupt is honoured.
   */
  private async tick(span: Span): Promise<void> {
    this.steps++;
    if (this.opts.ctx.dryRun && this.steps > DRY_RUN_STEPS) {
      throw new LimitError(
        `the check stopped after ${DRY_RUN_STEPS.toLocaleString("en-US")} evaluation steps (a check runs loops and calls for real: an endless loop or exponential recursion?)`,
        { loc: locOf(span, this.opts.file) },
      );
    }
    if (this.steps % YIELD_EVERY === 0) {
      await new Promise<void>((r) => setImmediate(r));
      this.checkInterrupt();
    }
  }

  /** A new list or dict value: within the nesting and size limits. */
  private made<T extends Value>(v: T, span: Span): T {
    checkValue(v, locOf(span, this.opts.file));
    return v;
  }

  // ------------------------------------------------------------ errors

  /** Diagnostics seen (location + message): an error inside a loop is reported once, not once per iteration. */
  private readonly noted = new Set<string>();
  /** The message of an unknown name, by source offset: its "did you mean" is computed once, not per iteration. */
  private readonly unknownAt = new Map<number, string>();

  private note(...ds: Diagnostic[]): void {
    for (const d of ds) {
      const key = `${d.loc.file}:${d.loc.line}:${d.loc.col}:${d.message}`;
      if (this.noted.has(key)) continue;
      this.noted.add(key);
      this.diagnostics.push(d);
    }
  }

  private fail(message: string, span: Span): never {
    throw new MergelabError(message, { loc: locOf(span, this.opts.file) });
  }

  private report(e: unknown, span: Span): void {
    if (!(e instanceof MergelabError) || e instanceof InterruptedError || e instanceof LimitError) throw e;
    const loc = e.details.loc ?? locOf(span, this.opts.file);
    this.note({ loc, message: e.message });
  }

  /** The error with a location (the given span unless it already has one). */
  private locate(e: unknown, span: Span): unknown {
    if (!(e instanceof MergelabError) || e.details.loc || e instanceof InterruptedError) return e;
    return new MergelabError(e.message, { ...e.details, loc: locOf(span, this.opts.file) });
  }

  /** Evaluate; in check mode a failure is recorded and yields POISON. */
  private async guard(expr: Expr, scope: Scope): Promise<Value> {
    if (!this.opts.keepGoing) return this.eval(expr, scope);
    try {
      return await this.eval(expr, scope);
    } catch (e) {
      this.report(e, expr.span);
      return POISON;
    }
  }

  private async guardStmt(stmt: Stmt, scope: Scope, topLevel: boolean): Promise<Value | undefined> {
    this.checkInterrupt();
    await this.tick(stmt.span);
    try {
      return await this.exec(stmt, scope, topLevel);
    } catch (raw) {
      const e = asLimit(raw, locOf(stmt.span, this.opts.file));
      if (!this.opts.keepGoing) throw this.locate(e, stmt.span);
      this.report(e, stmt.span);
      if (stmt.kind === "assign") scope.set(stmt.name, POISON);
      return undefined;
    }
  }

  private checkInterrupt(): void {
    if (this.opts.ctx.signal?.aborted) throw new InterruptedError();
  }

  // ------------------------------------------------------------ statements

  private async exec(stmt: Stmt, scope: Scope, topLevel: boolean): Promise<Value | undefined> {
    switch (stmt.kind) {
      case "expr":
        return this.eval(stmt.expr, scope);
      case "assign": {
        const override = topLevel ? this.opts.overrides?.get(stmt.name) : undefined;
        if (override !== undefined) {
          this.usedOverrides.add(stmt.name);
          scope.set(stmt.name, override);
          return undefined;
        }
        scope.set(stmt.name, await this.eval(stmt.value, scope));
        return undefined;
      }
      case "def": {
        const fn = new Closure(stmt.name, stmt.params, stmt.body, scope, this.opts.source, (f, p, k) => this.callClosure(f, p, k, stmt.span));
        scope.set(stmt.name, fn); // bound first: the body may call itself
        const errors = checkNames(stmt, scope, (n) => lookup(n) !== undefined);
        if (errors.length > 0) {
          const all = [...scope.names(), ...allNames()];
          const diags = errors.map((e) => ({ loc: locOf(e.span, this.opts.file), message: `unknown name '${e.name}'${didYouMean(e.name, [...all, ...e.local])}` }));
          if (!this.opts.keepGoing) throw new MergelabError(diags[0]!.message, { loc: diags[0]!.loc });
          this.note(...diags);
        }
        return undefined;
      }
      case "for": {
        const iter = await this.eval(stmt.iter, scope);
        const items = isPoison(iter) ? [POISON] : this.iterate(iter, stmt.iter.span);
        for (const item of items) {
          this.checkInterrupt();
          await this.tick(stmt.iter.span);
          scope.set(stmt.name, item);
          for (const s of stmt.body) await this.guardStmt(s, scope, false);
        }
        return undefined;
      }
      case "if": {
        const cond = await this.eval(stmt.cond, scope);
        // an unknown condition (check mode after an error): check both branches
        const branches = isPoison(cond) ? [stmt.then, stmt.else ?? []] : [truthy(cond) ? stmt.then : (stmt.else ?? [])];
        for (const b of branches) for (const s of b) await this.guardStmt(s, scope, false);
        return undefined;
      }
    }
  }

  private iterate(v: Value, span: Span): Value[] {
    if (Array.isArray(v)) return v;
    if (v instanceof Dict) return [...v.entries.keys()];
    if (v instanceof Table) return v.rows.map((r) => new Dict(new Map(v.columns.map((c, i) => [c, r[i] as Value]))));
    if (typeof v === "string") return [...v];
    this.fail(`cannot loop over ${describeValue(v)}`, span);
  }

  // ------------------------------------------------------------ expressions

  async eval(expr: Expr, scope: Scope): Promise<Value> {
    switch (expr.kind) {
      case "number":
      case "string":
      case "bool":
        return expr.value;
      case "none":
        return null;
      case "name":
        return this.name(expr.name, expr.span, scope);
      case "list": {
        const out: Value[] = [];
        for (const item of expr.items) out.push(await this.guard(item, scope));
        return this.made(out, expr.span);
      }
      case "dict": {
        const d = new Map<string, Value>();
        for (const e of expr.entries) d.set(e.key, await this.guard(e.value, scope));
        return this.made(new Dict(d), expr.span);
      }
      case "comprehension":
        return this.comprehension(expr, scope);
      case "call":
        return this.call(expr, scope);
      case "index":
        return this.index(await this.eval(expr.target, scope), await this.eval(expr.index, scope), expr);
      case "slice":
        return this.slice(expr, scope);
      case "attr": {
        const target = await this.eval(expr.target, scope);
        if (isPoison(target)) return target;
        if (target instanceof Dict) {
          if (target.entries.has(expr.name)) return target.entries.get(expr.name)!;
          this.fail(`no field '${expr.name}'${didYouMean(expr.name, target.entries.keys())}`, expr.nameSpan);
        }
        if (target instanceof Table) {
          const j = target.columns.indexOf(expr.name);
          if (j >= 0) return target.rows.map((r) => r[j] as Value);
          this.fail(`the table has no column '${expr.name}'${didYouMean(expr.name, target.columns)}`, expr.nameSpan);
        }
        this.fail(`${describeValue(target)} has no field '${expr.name}'`, expr.nameSpan);
      }
      case "unary": {
        const v = await this.eval(expr.operand, scope);
        if (expr.op === "not") return isPoison(v) ? v : !truthy(v);
        return this.negate(v, expr.op, expr.span);
      }
      case "binary":
        return this.binary(expr, scope);
    }
  }

  private name(name: string, span: Span, scope: Scope): Value {
    const v = scope.lookup(name);
    if (v !== undefined) return v;
    const spec = lookup(name);
    if (spec) return new FunctionRef(spec);
    const known = this.unknownAt.get(span.offset);
    if (known !== undefined) this.fail(known, span);
    const hint = keywords.includes(name.toLowerCase()) ? "" : didYouMean(name, [...scope.names(), ...allNames()]);
    this.unknownAt.set(span.offset, `unknown name '${name}'${hint}`);
    this.fail(`unknown name '${name}'${hint}`, span);
  }

  private async comprehension(expr: Extract<Expr, { kind: "comprehension" }>, scope: Scope): Promise<Value> {
    const out: Value[] = [];
    // Over an unknown (or failed) list the element is still checked once, but the list itself is unknown:
    // its length and items are not [one poisoned item].
    let unknown = false;
    let size = 0;
    const step = async (i: number, s: Scope): Promise<void> => {
      const clause = expr.clauses[i];
      if (!clause) {
        const v = await this.eval(expr.element, s);
        // the list grows item by item: stop before it exhausts the heap
        size += 1 + (Array.isArray(v) || v instanceof Dict ? valueSizeOf(v) : 0);
        if (size > MAX_ELEMENTS) limitSize(expr.span, this.opts.file);
        out.push(v);
        return;
      }
      if (clause.kind === "if") {
        const c = await this.eval(clause.cond, s);
        if (isPoison(c) || truthy(c)) await step(i + 1, s);
        return;
      }
      const iter = await this.eval(clause.iter, s);
      if (isPoison(iter)) unknown = true;
      const items = isPoison(iter) ? [iter] : this.iterate(iter, clause.iter.span);
      for (const item of items) {
        this.checkInterrupt();
        await this.tick(clause.iter.span);
        const inner = new Scope(s);
        inner.set(clause.name, item);
        await step(i + 1, inner);
      }
    };
    await step(0, scope);
    return unknown ? POISON : this.made(out, expr.span);
  }

  private index(target: Value, index: Value, expr: Extract<Expr, { kind: "index" }>): Value {
    if (isPoison(target) || isPoison(index)) return POISON;
    if (Array.isArray(target) || typeof target === "string") {
      if (typeof index !== "number" || !Number.isInteger(index)) this.fail(`a list index must be an integer, got ${describeValue(index)}`, expr.index.span);
      const i = index < 0 ? target.length + index : index;
      if (i < 0 || i >= target.length) this.fail(`index ${index} is out of range for ${describeValue(target)}`, expr.index.span);
      return target[i] as Value;
    }
    if (target instanceof Dict) {
      if (typeof index !== "string") this.fail(`a dict key must be a string, got ${describeValue(index)}`, expr.index.span);
      if (!target.entries.has(index)) this.fail(`no key ${JSON.stringify(index)}${didYouMean(index, target.entries.keys())}`, expr.index.span);
      return target.entries.get(index)!;
    }
    if (target instanceof Table && typeof index === "string") {
      const j = target.columns.indexOf(index);
      if (j < 0) this.fail(`the table has no column ${JSON.stringify(index)}${didYouMean(index, target.columns)}`, expr.index.span);
      return target.rows.map((r) => r[j] as Value);
    }
    if (target instanceof Table && typeof index === "number" && Number.isInteger(index)) {
      const i = index < 0 ? target.rows.length + index : index;
      const row = target.rows[i];
      if (!row) this.fail(`row ${index} is out of range for a table of ${target.rows.length} rows`, expr.index.span);
      return new Dict(new Map(target.columns.map((c, k) => [c, row[k] as Value])));
    }
    this.fail(`cannot index ${describeValue(target)}`, expr.target.span);
  }

  private async slice(expr: Extract<Expr, { kind: "slice" }>, scope: Scope): Promise<Value> {
    const target = await this.eval(expr.target, scope);
    const bound = async (e: Expr | undefined): Promise<number | undefined> => {
      if (!e) return undefined;
      const v = await this.eval(e, scope);
      if (isPoison(v)) throw POISON;
      if (v === null) return undefined;
      if (typeof v !== "number" || !Number.isInteger(v)) this.fail(`a slice bound must be an integer, got ${describeValue(v)}`, e.span);
      return v;
    };
    let start: number | undefined, stop: number | undefined, step: number | undefined;
    try {
      [start, stop, step] = [await bound(expr.start), await bound(expr.stop), await bound(expr.step)];
    } catch (e) {
      if (e === POISON) return POISON;
      throw e;
    }
    if (isPoison(target)) return target;
    if (!Array.isArray(target) && typeof target !== "string") this.fail(`cannot slice ${describeValue(target)}`, expr.target.span);
    if (step === 0) this.fail("slice step cannot be zero", expr.step!.span);
    const items = pySlice([...target], start, stop, step ?? 1);
    return typeof target === "string" ? items.join("") : (items as Value[]);
  }

  private negate(v: Value, op: "-" | "+", span: Span): Value {
    if (isPoison(v)) return v;
    if (Array.isArray(v)) return v.map((x) => this.negate(x, op, span));
    if (typeof v === "number") return op === "-" ? -v : v;
    if (isModel(v)) return op === "-" ? this.combineAt("*", -1, v, span) : v;
    this.fail(`cannot apply unary '${op}' to ${describeValue(v)}`, span);
  }

  private async binary(expr: Extract<Expr, { kind: "binary" }>, scope: Scope): Promise<Value> {
    const left = await this.eval(expr.left, scope);
    if (expr.op === "and" || expr.op === "or") {
      if (isPoison(left)) {
        await this.eval(expr.right, scope); // still check it
        return left;
      }
      if (expr.op === "and" ? !truthy(left) : truthy(left)) return left;
      return this.eval(expr.right, scope);
    }
    const right = await this.eval(expr.right, scope);
    return this.apply(expr.op, left, right, expr.span);
  }

  private apply(op: string, a: Value, b: Value, span: Span): Value {
    if (isPoison(a) || isPoison(b)) return POISON;
    if (op === "==" || op === "!=") {
      const eq = valuesEqual(a, b);
      return op === "==" ? eq : !eq;
    }
    if (Array.isArray(a) || Array.isArray(b)) {
      // broadcasting: list op list elementwise, list op scalar/model per item
      if (Array.isArray(a) && Array.isArray(b)) {
        if (a.length !== b.length) this.fail(`'${op}' between lists of different lengths (${a.length} and ${b.length})`, span);
        return a.map((x, i) => this.apply(op, x, b[i] as Value, span));
      }
      return Array.isArray(a) ? a.map((x) => this.apply(op, x, b, span)) : (b as Value[]).map((y) => this.apply(op, a, y, span));
    }
    if (op === "<" || op === "<=" || op === ">" || op === ">=") {
      if (!((typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string"))) {
        this.fail(`cannot compare ${describeValue(a)} and ${describeValue(b)} with '${op}'`, span);
      }
      const x = a as number | string;
      const y = b as number | string;
      return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
    }
    const arith = op as "+" | "-" | "*" | "/";
    if (typeof a === "number" && typeof b === "number") {
      if (arith === "/" && b === 0) this.fail("division by zero", span);
      const r = arith === "+" ? a + b : arith === "-" ? a - b : arith === "*" ? a * b : a / b;
      if (!Number.isFinite(r)) this.fail(`${a} ${arith} ${b} is not a finite number (${r})`, span);
      return r;
    }
    if (arith === "+" && typeof a === "string" && typeof b === "string") {
      if (a.length + b.length > MAX_STRING) throw new LimitError(`a string longer than ${MAX_STRING.toLocaleString("en-US")} characters`, { loc: locOf(span, this.opts.file) });
      return a + b;
    }
    if ((isModel(a) || typeof a === "number") && (isModel(b) || typeof b === "number")) {
      if (arith === "/" && b === 0) this.fail("division by zero", span);
      return this.combineAt(arith, a as ModelValue | number, b as ModelValue | number, span);
    }
    this.fail(`cannot apply '${op}' to ${describeValue(a)} and ${describeValue(b)}`, span);
  }

  private combineAt(op: "+" | "-" | "*" | "/", a: ModelValue | number, b: ModelValue | number, span: Span): Value {
    for (const x of [a, b]) if (typeof x === "number" && !Number.isFinite(x)) this.fail(`cannot apply '${op}' to a model and ${x}: not a finite number`, span);
    try {
      return combine(op, a, b) as Value;
    } catch (e) {
      throw this.locate(e, span);
    }
  }

  // ------------------------------------------------------------ calls

  private async call(expr: Extract<Expr, { kind: "call" }>, scope: Scope): Promise<Value> {
    const callee = await this.callee(expr, scope);
    const argv: ArgValue[] = [];
    for (const a of expr.args) argv.push({ name: a.name, nameSpan: a.nameSpan, value: await this.guard(a.value, scope), span: a.span });
    if (isPoison(callee)) return callee;
    if (callee instanceof Closure) {
      const spans = new Map(expr.args.map((a, i) => [i, a] as [number, Arg]));
      return this.invokeClosure(callee, argv, expr.callee.span, spans);
    }
    return this.callSpec((callee as FunctionRef).spec, argv, expr.callee.span);
  }

  private async callee(expr: Extract<Expr, { kind: "call" }>, scope: Scope): Promise<Value> {
    const c = expr.callee;
    if (c.kind === "name") {
      const v = scope.lookup(c.name);
      if (v === undefined) {
        const spec = lookup(c.name);
        if (spec) return new FunctionRef(spec);
        const fns = [...allNames(), ...scope.names().filter((n) => isFunction(scope.lookup(n)))];
        this.fail(`unknown function '${c.name}'${didYouMean(c.name, fns)}`, c.span);
      }
      if (isPoison(v) || isFunction(v)) return v;
      this.fail(`'${c.name}' is ${describeValue(v)}, not a function`, c.span);
    }
    const v = await this.eval(c, scope);
    if (isPoison(v) || isFunction(v)) return v;
    this.fail(`${describeValue(v)} is not a function`, c.span);
  }

  private async callSpec(spec: FunctionSpec, argv: ArgValue[], calleeSpan: Span): Promise<Value> {
    const bound = bindCall(spec, argv, calleeSpan);
    if (bound.errors.length > 0) {
      const diags = bound.errors.map((e) => ({ loc: locOf(e.span, this.opts.file), message: e.message }));
      if (!this.opts.keepGoing) throw new MergelabError(diags[0]!.message, { loc: diags[0]!.loc });
      this.note(...diags);
      return POISON;
    }
    // an error inside a list argument (explain([a, nope])) poisons the call too
    if (bound.poisoned || argv.some((a) => containsPoison(a.value))) return POISON;
    const ctx: CallContext = { ...this.opts.ctx, loc: locOf(calleeSpan, this.opts.file) };
    try {
      const result = await spec.call(bound.args, ctx);
      return result === undefined ? null : result;
    } catch (e) {
      if (!(e instanceof MergelabError)) throw e;
      const d = e.details;
      const span = (d.param !== undefined ? (bound.spans.get(d.param) ?? spanOfAlias(spec, d.param, bound.spans)) : undefined) ?? (d.argIndex !== undefined ? argv.filter((a) => !a.name)[d.argIndex]?.span : undefined) ?? calleeSpan;
      throw this.locate(e, span);
    }
  }

  /** Bind a call's arguments to a closure's parameters and run its body. */
  private async invokeClosure(fn: Closure, argv: ArgValue[], calleeSpan: Span, _spans?: Map<number, Arg>): Promise<Value> {
    const names = fn.params.map((p) => p.name);
    const vals = new Map<string, Value>();
    const errors: Array<{ message: string; span: Span }> = [];
    let pos = 0;
    for (const a of argv) {
      if (a.name === undefined) {
        const p = fn.params[pos++];
        if (!p) errors.push({ message: `${fn.name}() takes ${fn.params.length} argument${fn.params.length === 1 ? "" : "s"} but more were given`, span: a.span });
        else vals.set(p.name, a.value);
      } else if (!names.includes(a.name)) {
        errors.push({ message: `${fn.name}() has no parameter '${a.name}'${didYouMean(a.name, names)}`, span: a.nameSpan ?? a.span });
      } else if (vals.has(a.name)) {
        errors.push({ message: `${fn.name}() got two values for '${a.name}'`, span: a.nameSpan ?? a.span });
      } else vals.set(a.name, a.value);
    }
    const typo = errors.some((e) => e.message.includes("has no parameter"));
    for (const p of fn.params) if (!vals.has(p.name) && !p.default && !typo) errors.push({ message: `${fn.name}() is missing the argument '${p.name}'`, span: calleeSpan });
    if (errors.length > 0) {
      if (!this.opts.keepGoing) this.fail(errors[0]!.message, errors[0]!.span);
      this.note(...errors.map((e) => ({ loc: locOf(e.span, this.opts.file), message: e.message })));
      return POISON;
    }
    if (argv.some((a) => containsPoison(a.value))) return POISON;
    return this.runClosure(fn, vals, calleeSpan);
  }

  private async runClosure(fn: Closure, vals: Map<string, Value>, span: Span): Promise<Value> {
    await this.tick(span);
    if (this.depth >= MAX_DEPTH) this.fail(`${fn.name}() calls itself more than ${MAX_DEPTH} levels deep`, span);
    const local = new Scope(fn.scope as Scope);
    for (const p of fn.params) local.set(p.name, vals.has(p.name) ? vals.get(p.name)! : await this.eval(p.default!, fn.scope as Scope));
    this.depth++;
    try {
      let result: Value = null;
      for (const [i, s] of fn.body.entries()) {
        const v = await this.exec(s, local, false);
        if (i === fn.body.length - 1 && s.kind === "expr") result = v ?? null;
      }
      return result;
    } finally {
      this.depth--;
    }
  }

  /** A closure called from TypeScript (a spec's `function` argument, or `Closure.call`). */
  async callClosure(fn: Closure, positional: Value[], keywords: Record<string, Value>, span: Span): Promise<Value> {
    const argv: ArgValue[] = [...positional.map((value) => ({ value, span })), ...Object.entries(keywords).map(([name, value]) => ({ name, value, span }))];
    return this.invokeClosure(fn, argv, span);
  }
}

function spanOfAlias(spec: FunctionSpec, param: string, spans: Map<string, Span>): Span | undefined {
  const p = spec.params.find((q) => q.name === param || q.aliases?.includes(param));
  return p ? spans.get(p.name) : undefined;
}

export function truthy(v: Value): boolean {
  if (v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** Whether a value is, or holds in its lists and dicts, an error value (bounded walk, no recursion). */
function containsPoison(v: Value): boolean {
  if (isPoison(v)) return true;
  if (!Array.isArray(v) && !(v instanceof Dict)) return false;
  const stack: Value[] = [v];
  let budget = 100_000;
  while (stack.length && budget-- > 0) {
    const x = stack.pop()!;
    if (isPoison(x)) return true;
    if (Array.isArray(x)) for (const i of x) stack.push(i as Value);
    else if (x instanceof Dict) for (const i of x.entries.values()) stack.push(i);
  }
  return false;
}

const valueSizeOf = (v: Value) => valueSize(v);

function limitSize(span: Span, file: string): never {
  throw new LimitError(`a list of more than ${MAX_ELEMENTS.toLocaleString("en-US")} elements (nested lists counted): it would exhaust the memory`, { loc: locOf(span, file) });
}

/** Engine-level exhaustion (a deep recursion elsewhere, a string or array past V8's limits) as a LimitError at `loc`. */
function asLimit(e: unknown, loc: ReturnType<typeof locOf>): unknown {
  if (e instanceof RangeError && /Maximum call stack|Invalid (string|array|typed array) length|Array buffer allocation/.test(e.message)) {
    return new LimitError(`too deep or too large to evaluate (${e.message})`, { loc });
  }
  return e;
}

/** Python slice semantics. */
export function pySlice<T>(xs: T[], start: number | undefined, stop: number | undefined, step: number): T[] {
  const n = xs.length;
  const norm = (i: number, dflt: number, lo: number, hi: number) => (i === undefined ? dflt : Math.min(Math.max(i < 0 ? i + n : i, lo), hi));
  const out: T[] = [];
  if (step > 0) {
    const s = norm(start as number, 0, 0, n);
    const e = norm(stop as number, n, 0, n);
    for (let i = s; i < e; i += step) out.push(xs[i]!);
  } else {
    const s = norm(start as number, n - 1, -1, n - 1);
    const e = norm(stop as number, -1, -1, n - 1);
    for (let i = s; i > e; i += step) out.push(xs[i]!);
  }
  return out;
}

