/**
 * The tensor runtime: TensorFlow.js with the fastest backend that loads here.
 * Order: tfjs-node (native libtensorflow, optional dependency), then wasm, then
 * the pure-JS cpu backend. MERGELAB_BACKEND=tensorflow|wasm|cpu forces one.
 */
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { MergelabError } from "./errors.js";

export { tf };
export type BackendName = "tensorflow" | "wasm" | "cpu";
const require = createRequire(import.meta.url);

let ready: Promise<BackendName> | undefined;

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === "tensorflow") require("@tensorflow/tfjs-node");
    if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** Select and initialise the backend once; returns its name. */
export function initRuntime(): Promise<BackendName> {
  ready ??= (async () => {
    const forced = process.env.MERGELAB_BACKEND?.trim();
    if (forced) {
      if (!["tensorflow", "wasm", "cpu"].includes(forced)) {
        throw new MergelabError(`MERGELAB_BACKEND=${forced}: expected tensorflow, wasm or cpu`);
      }
      if (!(await tryBackend(forced as BackendName))) {
        throw new MergelabError(`MERGELAB_BACKEND=${forced}: that backend does not load on this machine`);
      }
      return forced as BackendName;
    }
    for (const name of ["tensorflow", "wasm", "cpu"] as const) {
      if (await tryBackend(name)) return name;
    }
    throw new MergelabError("no TensorFlow.js backend could be initialised");
  })();
  return ready;
}

/** The backend in use, for banners and --verbose ("not initialised" before initRuntime). */
export function backendName(): string {
  return ready ? tf.getBackend() ?? "not initialised" : "not initialised";
}
