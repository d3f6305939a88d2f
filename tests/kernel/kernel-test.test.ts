// Debian's jupyter_kernel_test suite against the mergelab kernel, through a
// real Jupyter client (jupyter_client starts the kernel from the installed spec).
import { describe, expect, it } from "vitest";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { canRun, installKernels, jupyterEnv, runPython } from "./jupyter.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const runnable = canRun({ python: ["jupyter_kernel_test", "jupyter_client"] });

describe.skipIf(!runnable)("jupyter_kernel_test", () => {
  it("passes every test of the suite that the kernel declares samples for", () => {
    const { jupyterPath } = installKernels();
    const r = runPython(["-m", "unittest", "-v", "test_mergelab_kernel"], { cwd: here, env: jupyterEnv(jupyterPath), timeout: 240_000 });
    const log = r.stderr + r.stdout;
    const results = new Map([...log.matchAll(/^(test_\w+) \(.*?\) \.\.\. (ok|FAIL|ERROR|skipped.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(log, log).toMatch(/^OK/m);
    expect(r.status, log).toBe(0);
    // Each of these ran (not skipped) and passed.
    for (const t of ["test_kernel_info", "test_execute_stdout", "test_execute_stderr", "test_clear_output", "test_completion", "test_is_complete", "test_error", "test_execute_result", "test_display_data", "test_inspect", "test_history"]) {
      expect(results.get(t), `${t}\n${log}`).toBe("ok");
    }
  }, 300_000);
});
