// Shared by the notebook tests: Debian's Jupyter (run with /usr/bin/python3),
// kernel specs installed into a temporary prefix (never the user's home), and
// whether the tests may skip (only outside CI, when a tool is missing).
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { repoRoot, runCli, tempDir } from "../helpers.js";

export const PYTHON = "/usr/bin/python3";
export const CHROMIUM = "/usr/bin/chromium";
export const notebooksDir = path.join(repoRoot, "notebooks");

function pythonHas(modules: string[]): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ["-c", modules.map((m) => `import ${m}`).join("; ")]).status === 0;
}

/** In CI everything must be there (a missing tool fails the test); elsewhere the test may skip. */
export function canRun(what: { python?: string[]; chromium?: boolean; nbconvert?: boolean }): boolean {
  const ok =
    pythonHas(what.python ?? []) &&
    (!what.chromium || fs.existsSync(CHROMIUM)) &&
    (!what.nbconvert || spawnSync(PYTHON, ["-m", "nbconvert", "--version"]).status === 0);
  return ok || process.env.CI === "true" || process.env.CI === "1";
}

/** `mergelab kernel install --prefix TMP`; returns the JUPYTER_PATH to use. */
export function installKernels(): { jupyterPath: string; prefix: string } {
  const prefix = tempDir("mergelab-kernels-");
  const r = runCli(["kernel", "install", "--prefix", prefix]);
  if (r.code !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
  return { jupyterPath: path.join(prefix, "share", "jupyter"), prefix };
}

/** Environment for Jupyter processes: our kernel specs, a throwaway runtime/data dir, no user config. */
export function jupyterEnv(jupyterPath: string): Record<string, string> {
  const home = tempDir("mergelab-jupyter-home-");
  return {
    JUPYTER_PATH: jupyterPath,
    JUPYTER_RUNTIME_DIR: path.join(home, "runtime"),
    JUPYTER_DATA_DIR: path.join(home, "data"),
    JUPYTER_CONFIG_DIR: path.join(home, "config"),
    JUPYTER_PLATFORM_DIRS: "1",
    PYTHONNOUSERSITE: "1",
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
}

export function runPython(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number; input?: string }): SpawnSyncReturns<string> {
  return spawnSync(PYTHON, args, {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeout ?? 300_000,
    maxBuffer: 256 * 1024 * 1024,
  });
}
