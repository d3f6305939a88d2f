/**
 * Worker thread entry: opens the plan's sources from their descriptions, then
 * runs tasks (one output tensor each) sent by the scheduler (exec/pool.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import { MergelabError } from "../../errors.js";
import { TaskRunner, type RunnerInit, type Task } from "./tasks.js";

type Message = { type: "task"; id: number; task: Task } | { type: "flush"; id: number } | { type: "close"; id: number };

const runner = new TaskRunner(workerData as RunnerInit);
const port = parentPort!;

port.on("message", (msg: Message) => {
  try {
    if (msg.type === "task") {
      const result = runner.run(msg.task);
      const transfer = result.arrays.map(([, , data]) => data.buffer as ArrayBuffer);
      port.postMessage({ id: msg.id, ok: true, result }, transfer);
    } else if (msg.type === "flush") {
      const hists = runner.flush();
      port.postMessage({ id: msg.id, ok: true, result: hists }, Object.values(hists).map((h) => h.buffer as ArrayBuffer));
    } else {
      runner.close();
      port.postMessage({ id: msg.id, ok: true, result: null });
    }
  } catch (e) {
    const err = e as Error;
    port.postMessage({ id: msg.id, ok: false, error: { message: err.message, stack: err.stack, user: e instanceof MergelabError, details: (e as MergelabError).details } });
  }
});
