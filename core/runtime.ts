/**
 * The tensor runtime: TensorFlow.js with the fastest backend that loads here.
 * Order: tfjs-node (native libtensorflow, optional dependency), then wasm, then
 * the pure-JS cpu backend. MERGELAB_BACKEND=tensorflow|wasm|cpu forces one.
 */
import type * as TF from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { MergelabError } from "./errors.js";

export type BackendName = "tensorflow" | "wasm" | "cpu";
const require = createRequire(import.meta.url);

let tfjs: typeof TF | undefined;
/**
 * TensorFlow.js, loaded on first use: `check`, `--help` and the kernel's start never pay for it. The
 * package's CommonJS build is the one an ESM `import` resolves to as well, so there is one engine.
 */
export const tf: typeof TF = new Proxy({} as typeof TF, {
  get: (_target, key) => Reflect.get((tfjs ??= loadTfjs()), key),
});

function loadTfjs(): typeof TF {
  const m = require("@tensorflow/tfjs") as typeof TF;
  // production mode: no "Hi, looks like you are running TensorFlow.js in Node.js" banner in a user's output
  m.env().set("PROD", true);
  return m;
}
/** The types of `tf` (`tf.Tensor`, …), which a lazily loaded value cannot carry by itself. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace tf {
  export type Rank = TF.Rank;
  export type Tensor<R extends TF.Rank = TF.Rank> = TF.Tensor<R>;
  export type Tensor1D = TF.Tensor1D;
  export type Tensor2D = TF.Tensor2D;
  export type Tensor3D = TF.Tensor3D;
  export type Scalar = TF.Scalar;
  export type Variable = TF.Variable;
  export type LayersModel = TF.LayersModel;
  export type Sequential = TF.Sequential;
  export type SymbolicTensor = TF.SymbolicTensor;
  export type DataType = TF.DataType;
}

let ready: Promise<BackendName> | undefined;
let settled = false;

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
  void ready.then(() => (settled = true), () => {});
  return ready;
}

/**
 * The backend initRuntime() will pick, without loading TensorFlow.js (for a banner shown before the first
 * use): the forced one, else tfjs-node when its native library is installed, else wasm.
 */
export function expectedBackend(): BackendName {
  const forced = process.env.MERGELAB_BACKEND?.trim();
  if (forced === "tensorflow" || forced === "wasm" || forced === "cpu") return forced;
  try {
    require.resolve("@tensorflow/tfjs-node");
    return "tensorflow";
  } catch {
    return "wasm";
  }
}

/** Whether initRuntime() has finished. */
export function runtimeReady(): boolean {
  return settled;
}

/** The backend in use, for banners and --verbose ("not initialised" before initRuntime). */
export function backendName(): string {
  return ready && tfjs ? tfjs.getBackend() ?? "not initialised" : "not initialised";
}
