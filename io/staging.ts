/**
 * The staging directory of an output: a temporary sibling `.NAME.tmp-XXXX`,
 * renamed onto the target when complete. Interrupted runs are cleaned up on
 * exit, Ctrl-C and kill signals; a run killed outright (SIGKILL, power) leaves
 * its staging directory with the pid of its writer inside, and the next run on
 * the same target removes it once that process is gone.
 */
import fs from "node:fs";
import path from "node:path";

export const PID_FILE = ".mergelab-writer-pid";

const cleanups = new Set<() => void>();
let hooksInstalled = false;

/** Run `cleanup` if the process exits or is interrupted before the returned function is called. */
export function onInterrupt(cleanup: () => void): () => void {
  installHooks();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function runCleanups(): void {
  for (const c of [...cleanups]) c();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // process.exit() and normal exits
  process.on("exit", runCleanups);
  // Ctrl-C / kill: the same, then die by the signal as usual unless someone else handles it
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      runCleanups();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

export function isEmptyOrAbsent(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() && fs.readdirSync(p).length === 0;
  } catch {
    return true;
  }
}

export function fsyncPath(file: string): void {
  const fd = fs.openSync(file, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** rename(temp → target); an existing target is renamed away first and deleted after, or restored on failure. */
export function replaceDir(tempDir: string, target: string): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(tempDir, target);
    return;
  }
  const old = `${path.join(path.dirname(target), "." + path.basename(target))}.old-${process.pid}-${Date.now()}`;
  fs.renameSync(target, old);
  try {
    fs.renameSync(tempDir, target);
  } catch (e) {
    fs.renameSync(old, target);
    throw e;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** Temp dirs of earlier runs on this target that were killed (their writer process is gone). */
export function removeStaleTemps(target: string): void {
  const parent = path.dirname(target);
  const prefix = `.${path.basename(target)}.tmp-`;
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(parent, name);
    let pid = NaN;
    try {
      pid = Number(fs.readFileSync(path.join(dir, PID_FILE), "utf8"));
    } catch {
      continue; // no pid file: not ours, or mid-commit; leave it
    }
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
