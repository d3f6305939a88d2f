/** mergelab's public TypeScript API (what tslab notebooks import). */
export const VERSION = "0.1.0";
export { MergelabError } from "./kernel/errors.js";
export { tf, initRuntime, backendName } from "./kernel/runtime.js";
export * from "./stdlib/spec.js";
