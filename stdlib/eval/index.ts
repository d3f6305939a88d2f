import type { FunctionSpec } from "../spec.js";

export const specs: FunctionSpec[] = [];
