/** passthrough: copy a model's tensors, optionally scaled (x·scale; a schedule scales layer by layer). */
import type { Node } from "../../engine/ir.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as step from "./steps.js";

export const passthrough: MethodDefinition = {
  name: "passthrough",
  doc: "Copy a model unchanged, or scaled: x·scale (scale may be a schedule, e.g. to damp some layers).",
  example: 'passthrough(base, scale=match({"lm_head": 0.5}, default=1))',
  params: [
    { name: "x", type: "model", required: true, doc: "the model to copy" },
    { name: "scale", type: ["number", "schedule"], default: 1, schedulable: true, doc: "factor applied to every float tensor" },
  ],
  compute: (g, inputs, _t, params) => step.scale(g, inputs.x as Node, params.scale as number),
};

export const specs: FunctionSpec[] = [methodSpec(passthrough)];
