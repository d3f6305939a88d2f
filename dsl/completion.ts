/**
 * What a notebook asks of the language besides running: completions at the
 * cursor (keyword arguments of the enclosing call first, then bindings and
 * function names), the doc of the name under the cursor (from its spec), and
 * whether a cell is complete (for the console's continuation prompt).
 */
import { lookup, allNames } from "../stdlib/registry.js";
import type { FunctionSpec } from "../stdlib/spec.js";
import { describeParam, signature } from "./bind.js";
import { layout } from "./layout.js";
import { parse } from "./parse.js";
import { keywords } from "./tokens.js";
import { Closure, FunctionRef } from "./values.js";
import { formatValue } from "../core/present.js";
import { typeName } from "../stdlib/check.js";
import type { Session } from "./session.js";

const NAME_CHAR = /[A-Za-z0-9_\u0370-\u03FF\u1F00-\u1FFF]/;

function wordAt(code: string, pos: number): { start: number; end: number } {
  let start = pos;
  while (start > 0 && NAME_CHAR.test(code[start - 1]!)) start--;
  let end = pos;
  while (end < code.length && NAME_CHAR.test(code[end]!)) end++;
  return { start, end };
}

/** The function whose argument list contains `pos` (innermost open `(` after a name), if any. */
function enclosingCall(code: string, pos: number): string | undefined {
  let depth = 0;
  let inString: string | undefined;
  const opens: number[] = [];
  for (let i = 0; i < pos; i++) {
    const c = code[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === inString || c === "\n") inString = undefined;
      continue;
    }
    if (c === "#") {
      while (i < pos && code[i] !== "\n") i++;
      continue;
    }
    if (c === '"' || c === "'") inString = c;
    else if (c === "(" || c === "[" || c === "{") opens.push(c === "(" ? i : -1), depth++;
    else if ((c === ")" || c === "]" || c === "}") && depth > 0) opens.pop(), depth--;
  }
  const at = opens[opens.length - 1];
  if (at === undefined || at < 0) return undefined;
  let end = at;
  while (end > 0 && /\s/.test(code[end - 1]!)) end--;
  const { start } = wordAt(code, end);
  return start < end ? code.slice(start, end) : undefined;
}

function paramNames(session: Session, fn: string): string[] {
  const v = session.get(fn);
  if (v instanceof Closure) return v.params.map((p) => p.name);
  const spec = v instanceof FunctionRef ? v.spec : lookup(fn);
  return spec ? spec.params.filter((p) => !p.rest).flatMap((p) => [p.name, ...(p.aliases ?? [])]) : [];
}

export function completeAt(session: Session, code: string, cursorPos: number): { matches: string[]; cursorStart: number; cursorEnd: number } {
  const pos = Math.max(0, Math.min(cursorPos, code.length));
  const { start } = wordAt(code, pos);
  const prefix = code.slice(start, pos);
  const fn = enclosingCall(code, start);
  const kwargs = fn ? paramNames(session, fn).map((p) => `${p}=`) : [];
  const names = [...session.bindings(), ...allNames(), ...keywords].sort();
  const seen = new Set<string>();
  const matches = [...kwargs, ...names].filter((m) => m.startsWith(prefix) && !seen.has(m) && (seen.add(m), true));
  return { matches, cursorStart: start, cursorEnd: pos };
}

export function specDoc(spec: FunctionSpec): string {
  const lines = [signature(spec), "", spec.doc, ""];
  if (spec.aliases?.length) lines.push(`Also called: ${spec.aliases.join(", ")}`, "");
  if (spec.params.length > 0) lines.push("Parameters:", ...spec.params.map((p) => `  ${describeParam(p)}`), "");
  lines.push(`Example:\n  ${spec.example}`);
  if (spec.paper) lines.push("", `Paper: ${spec.paper.title} (${spec.paper.url})`);
  return lines.join("\n");
}

function closureDoc(fn: Closure): string {
  const def = fn.params.length ? fn.signature() : `${fn.name}()`;
  return `${def}\n\nuser-defined function`;
}

export function inspectAt(session: Session, code: string, cursorPos: number): string | undefined {
  const pos = Math.max(0, Math.min(cursorPos, code.length));
  const { start, end } = wordAt(code, pos);
  const word = code.slice(start, end);
  const describe = (name: string): string | undefined => {
    const v = session.get(name);
    if (v instanceof Closure) return closureDoc(v);
    if (v instanceof FunctionRef) return specDoc(v.spec);
    if (v !== undefined) return `${name}: ${typeName(v)}\n${formatValue(v)}`;
    const spec = lookup(name);
    return spec ? specDoc(spec) : undefined;
  };
  if (word) {
    const d = describe(word);
    if (d) return d;
  }
  const fn = enclosingCall(code, pos);
  return fn ? describe(fn) : undefined;
}

export function isCompleteCode(code: string): "complete" | "incomplete" | "invalid" {
  const { errors } = layout(code);
  if (errors.some((e) => e.message.includes("was never closed") && !e.message.includes("found"))) {
    return errors.every((e) => e.message.includes("was never closed")) ? "incomplete" : "invalid";
  }
  const { diagnostics } = parse(code);
  if (diagnostics.length === 0) return "complete";
  const trimmed = code.replace(/\s+$/, "");
  const lines = trimmed.split("\n");
  const lastLine = lines.length;
  const lastCol = (lines[lines.length - 1] ?? "").length + 1;
  const atEnd = diagnostics.every((d) => d.loc.line > lastLine || (d.loc.line === lastLine && d.loc.col >= lastCol));
  return atEnd && /[-+*/=,(\[{:]$|\b(and|or|not|in)$/.test(trimmed) ? "incomplete" : "invalid";
}
