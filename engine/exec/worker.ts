/**
 * Worker thread entry: for each execution, opens the plan's sources from their
 * descriptions ("init"), runs tasks (one output tensor each) sent by the
 * scheduler (exec/pool.ts), and closes them ("close"). Workers are kept in a
 * pool between executions, so their compiled pass functions stay warm.
 */
import { parentPort } from "node:worker_threads";
import { MergelabError } from "../../core/errors.js";
import { TaskRunner, type RunnerInit, type Task } from "./tasks.js";

type Message =
  | { type: "init"; id: number; init: RunnerInit }
  | { type: "task"; id: number; task: Task }
  | { type: "flush"; id: number }
  | { type: "close"; id: number };

let runner: TaskRunner | undefined;
const port = parentPort!;

port.on("message", (msg: Message) => {
  try {
    if (msg.type === "init") {
      runner?.close();
      runner = new TaskRunner(msg.init);
      port.postMessage({ id: msg.id, ok: true, result: null });
    } else if (msg.type === "task") {
      const result = runner!.run(msg.task);
      const transfer = result.arrays.map(([, , data]) => data.buffer as ArrayBuffer);
      port.postMessage({ id: msg.id, ok: true, result }, transfer);
    } else if (msg.type === "flush") {
      const hists = runner!.flush();
      port.postMessage({ id: msg.id, ok: true, result: hists }, Object.values(hists).map((h) => h.buffer as ArrayBuffer));
    } else {
      runner?.close();
      runner = undefined;
      port.postMessage({ id: msg.id, ok: true, result: null });
    }
  } catch (e) {
    const err = e as Error;
    port.postMessage({ id: msg.id, ok: false, error: { message: err.message, stack: err.stack, user: e instanceof MergelabError, details: (e as MergelabError).details } });
  }
});
