/**
 * Notebooks: the mergelab Jupyter kernel (cells are the merge language), the
 * kernel-spec installer, and rich display for tslab's TypeScript notebooks.
 *
 *   connection file ─▶ KernelServer (ZeroMQ, protocol 5.3) ─▶ MergelabLanguage ─▶ dsl Session
 *                                          │
 *                     mime bundles ◀── valueToMimeBundle / Figure / ProgressBar
 */
import fs from "node:fs";
import { MergelabError } from "../core/errors.js";
import type { ConnectionInfo } from "./protocol.js";

export { KernelServer, type Language, type CellOutput, type ExecuteOutcome } from "./server.js";
export { installKernelSpecs, mergelabKernelSpec, tslabKernelSpec, kernelsDir } from "./install.js";
export { valueToMimeBundle, tableToMimeBundle, repr } from "../core/present.js";
export { displayValue, displayBundle, notebookDisplay, inTslab, type DisplayOptions } from "../core/display.js";
export { ProgressBar, progressBundle, withProgress, type Progress } from "../core/progress.js";
export { withPlotlyOnce, PLOTLY_MIME } from "../core/plotly.js";

export function readConnectionFile(file: string): ConnectionInfo {
  let info: Partial<ConnectionInfo>;
  try {
    info = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new MergelabError(`cannot read the connection file ${file}: ${(e as Error).message}`);
  }
  for (const k of ["shell_port", "control_port", "stdin_port", "iopub_port", "hb_port"] as const) {
    if (typeof info[k] !== "number") throw new MergelabError(`connection file ${file}: '${k}' is missing or not a number`);
  }
  const ports = info as ConnectionInfo;
  return {
    ...ports,
    transport: info.transport ?? "tcp",
    ip: info.ip ?? "127.0.0.1",
    key: info.key ?? "",
    signature_scheme: info.signature_scheme ?? "hmac-sha256",
  };
}

/** Run the mergelab kernel until a shutdown_request. SIGINT interrupts the running cell. */
export async function startKernel(connectionFile: string): Promise<void> {
  const conn = readConnectionFile(connectionFile);
  // TensorFlow.js loads after the kernel answers (language.ts): kernel_info comes back at once
  const { MergelabLanguage } = await import("./language.js");
  const { KernelServer } = await import("./server.js");
  const server = new KernelServer(conn, new MergelabLanguage({ cwd: process.cwd() }));
  await server.start();
  const onSigint = () => server.interrupt();
  process.on("SIGINT", onSigint);
  // Like ipykernel's ParentPoller: when the Jupyter process that started us is gone, stop.
  const parent = Number(process.env.JPY_PARENT_PID);
  const poll = parent > 1 ? setInterval(() => parentAlive(parent) || void server.stop(), 3000) : undefined;
  poll?.unref();
  try {
    await server.done;
  } finally {
    process.off("SIGINT", onSigint);
    clearInterval(poll);
  }
}

function parentAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
