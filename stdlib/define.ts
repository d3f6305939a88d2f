/**
 * `defineMethod` — add a merge method from TypeScript. The language then
 * checks its arguments, completes its name, documents and explains it like a
 * built-in (it goes through the same MethodDefinition as the built-ins).
 *
 *   defineMethod({
 *     name: "halfway", doc: "b + (x − b)/2", example: "halfway(x, base=b)",
 *     params: [{ name: "x", type: "model", required: true, doc: "expert" },
 *              { name: "base", type: "model", required: true, doc: "base" }],
 *     compute: (g, { x, base }) => g.add(base as Node, g.mul(g.sub(x as Node, base as Node), 0.5)),
 *   })
 */
import { MergelabError } from "../core/errors.js";
import { register } from "./registry.js";
import { methodSpec, type MethodDefinition } from "./methods/define.js";
import type { FunctionSpec } from "./spec.js";

export type { MethodDefinition, Inputs, Params, CallInfo } from "./methods/define.js";

/** `replace: true` redefines a method this process defined before (a notebook cell run again). */
export function defineMethod(def: MethodDefinition, opts: { replace?: boolean } = {}): FunctionSpec {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(def.name)) throw new MergelabError(`defineMethod: '${def.name}' is not a valid name`);
  if (typeof def.compute !== "function") throw new MergelabError(`defineMethod: ${def.name} needs a compute function`);
  const spec = methodSpec(def);
  register(spec, opts);
  return spec;
}
