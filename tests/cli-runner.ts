import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/mergelab.js"), ...args], {
    cwd: opts.cwd ?? root,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeout ?? 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
