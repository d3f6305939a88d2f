/**
 * The staging directory of an output: a temporary sibling `.NAME.tmp-XXXX`,
 * renamed onto the target when complete. Interrupted runs are cleaned up on
 * exit, Ctrl-C and kill signals.
 *
 * A run killed outright (SIGKILL, power, a lost pod) is recovered by the next
 * writer of the same target, by `openCheckpoint` of it and by `finalize`:
 *  - each temporary directory holds an owner file (host name, pid, a random
 *    id, refreshed every 30 s while the writer lives). It is removed only when
 *    its owner is certainly gone: the same host and a dead pid, or no sign of
 *    life for 10 minutes. A pid alone would not do: two pods on one shared
 *    volume have separate pid namespaces.
 *  - replacing an existing output is journaled: `.NAME.commit-ID` names the
 *    complete temp directory and where the old output goes; after a kill
 *    between the two renames, recovery rolls forward (the new output) or back
 *    (the old one) and removes the leftovers. Never neither.
 *
 * `MERGELAB_CRASH_AT=<step>` makes the process SIGKILL itself at a named step,
 * `MERGELAB_PAUSE_AT=<step>` makes it wait there (tests/hostile/kill.test.ts);
 * unset, they cost one comparison.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The owner file inside a temporary directory (JSON: host, pid, id). */
export const OWNER_FILE = ".mergelab-owner";
/** @deprecated the owner file replaced it; still recognized in old temp dirs. */
export const PID_FILE = ".mergelab-writer-pid";
const HEARTBEAT_MS = 30_000;
const STALE_MS = 10 * 60_000;

/** SIGKILL this process at a named step when MERGELAB_CRASH_AT says so (kill tests). */
export function crashPoint(step: string): void {
  if (process.env.MERGELAB_CRASH_AT === step) process.kill(process.pid, "SIGKILL");
}

/** Block for MERGELAB_PAUSE_MS (default 10 s) at a named step when MERGELAB_PAUSE_AT says so (tests of concurrent writers). */
export function pausePoint(step: string): void {
  if (process.env.MERGELAB_PAUSE_AT !== step) return;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.MERGELAB_PAUSE_MS ?? 10_000));
}

export interface Owner {
  host: string;
  pid: number;
  id: string;
}

/** A new owner identity: unique across machines (host name + pid + random id). */
export function newOwner(): Owner {
  return { host: os.hostname(), pid: process.pid, id: crypto.randomBytes(8).toString("hex") };
}

/** Write the owner file into `dir` and keep it fresh; returns the function that stops the heartbeat. */
export function claim(dir: string, owner: Owner): () => void {
  const file = path.join(dir, OWNER_FILE);
  fs.writeFileSync(file, JSON.stringify(owner));
  const timer = setInterval(() => {
    try {
      const now = new Date();
      fs.utimesSync(file, now, now);
    } catch {
      /* gone: committed or aborted */
    }
  }, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Whether whoever owns `file` (an owner or journal file) is certainly gone. */
function ownerGone(file: string): boolean {
  let owner: Partial<Owner>;
  let mtime: number;
  try {
    owner = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Owner>;
    mtime = fs.statSync(file).mtimeMs;
  } catch {
    return false; // unreadable: not ours to judge
  }
  if (owner.host === os.hostname() && Number.isInteger(owner.pid) && owner.pid! > 0) {
    return owner.pid !== process.pid && !processAlive(owner.pid!);
  }
  return Date.now() - mtime > STALE_MS; // another machine: only silence for long proves it gone
}

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

const journalPrefix = (target: string) => `.${path.basename(target)}.commit-`;

/**
 * rename(temp → target). An existing target is replaced by a journaled pair of
 * renames (target → .NAME.old-ID, temp → target), then the old one is removed;
 * a kill at any point is recovered by recoverCommits().
 */
export function replaceDir(tempDir: string, target: string, owner: Owner = newOwner()): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(tempDir, target);
    return;
  }
  const parent = path.dirname(target);
  const old = path.join(parent, `.${path.basename(target)}.old-${owner.id}`);
  const journal = path.join(parent, `${journalPrefix(target)}${owner.id}`);
  writeDurably(journal, JSON.stringify({ ...owner, temp: path.basename(tempDir), old: path.basename(old) }), "commit:journal-partial");
  crashPoint("commit:journaled");
  fs.renameSync(target, old);
  crashPoint("commit:old-moved");
  try {
    fs.renameSync(tempDir, target);
  } catch (e) {
    fs.renameSync(old, target);
    fs.rmSync(journal, { force: true });
    throw e;
  }
  crashPoint("commit:new-moved");
  fs.rmSync(old, { recursive: true, force: true });
  crashPoint("commit:old-removed");
  fs.rmSync(journal, { force: true });
}

/** Write a small file atomically and durably (temp file, fsync, rename). */
export function writeDurably(file: string, text: string, crashStep?: string): void {
  const tmp = `${file}.partial`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (crashStep) crashPoint(crashStep);
  fs.renameSync(tmp, file);
}

/**
 * Finish or undo commits onto `target` whose writer died between its renames:
 * with the target missing, the complete new output (or else the old one) is
 * put back; then the leftovers go. Commits of live writers are left alone.
 */
export function recoverCommits(target: string): void {
  const parent = path.dirname(target);
  const prefix = journalPrefix(target);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || name.endsWith(".partial")) continue;
    const journal = path.join(parent, name);
    if (!ownerGone(journal)) continue;
    let j: { temp?: string; old?: string };
    try {
      j = JSON.parse(fs.readFileSync(journal, "utf8"));
    } catch {
      continue;
    }
    const safe = (n: unknown) => typeof n === "string" && n === path.basename(n) && n.startsWith(`.${path.basename(target)}.`);
    if (!safe(j.temp) || !safe(j.old)) continue;
    const temp = path.join(parent, j.temp!);
    const old = path.join(parent, j.old!);
    if (!fs.existsSync(target)) {
      if (fs.existsSync(temp)) fs.renameSync(temp, target); // the journal is written once the new output is complete
      else if (fs.existsSync(old)) fs.renameSync(old, target);
    }
    fs.rmSync(path.join(target, OWNER_FILE), { force: true });
    if (fs.existsSync(temp)) fs.rmSync(temp, { recursive: true, force: true });
    fs.rmSync(old, { recursive: true, force: true });
    fs.rmSync(journal, { force: true });
  }
  for (const name of names) {
    // A journal killed while being written: no rename had started. Its writer
    // is the owner of the temp dir with the same id; the journal goes once
    // that owner is gone (or the temp dir is, which its owner never removes
    // before the journal is complete).
    if (!name.startsWith(prefix) || !name.endsWith(".partial")) continue;
    const id = name.slice(prefix.length, -".partial".length);
    const temp = names.find((n) => n.startsWith(`.${path.basename(target)}.tmp-`) && ownerId(path.join(parent, n, OWNER_FILE)) === id);
    if (temp === undefined || ownerGone(path.join(parent, temp, OWNER_FILE))) fs.rmSync(path.join(parent, name), { force: true });
  }
}

function ownerId(file: string): string | undefined {
  try {
    const id = (JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Owner>).id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Temp dirs of earlier runs on this target whose writer is certainly gone (see ownerGone). */
export function removeStaleTemps(target: string): void {
  recoverCommits(target);
  const parent = path.dirname(target);
  const prefix = `.${path.basename(target)}.tmp-`;
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(parent, name);
    if (ownerGone(path.join(dir, OWNER_FILE))) fs.rmSync(dir, { recursive: true, force: true });
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
