import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { repoRoot, runCli, tempDir } from "../helpers.js";
import { canRun, jupyterEnv, runPython } from "./jupyter.js";

describe("mergelab kernel install", () => {
  it("writes the mergelab and tslab kernel specs under --prefix, with this install's node and absolute paths", () => {
    const prefix = tempDir("mergelab-prefix-");
    const r = runCli(["kernel", "install", "--prefix", prefix]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const dir = path.join(prefix, "share", "jupyter", "kernels");
    expect(r.stdout).toContain(`installed kernel spec 'mergelab' in ${path.join(dir, "mergelab")}`);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "mergelab", "kernel.json"), "utf8"));
    expect(spec).toMatchObject({
      display_name: "MergeLab",
      language: "mergelab",
      argv: [process.execPath, path.join(repoRoot, "bin", "mergelab.js"), "kernel", "start", "--connection-file", "{connection_file}"],
    });
    const ts = JSON.parse(fs.readFileSync(path.join(dir, "tslab", "kernel.json"), "utf8"));
    expect(ts).toMatchObject({ display_name: "TypeScript", language: "typescript" });
    expect(ts.argv[0]).toBe(process.execPath);
    expect(fs.existsSync(ts.argv[1])).toBe(true);
    expect(ts.argv.slice(2)).toEqual(["kernel", "--config-path", "{connection_file}"]);
    // tslab notebooks in this checkout can import "mergelab"
    expect(fs.realpathSync(path.join(repoRoot, "node_modules", "mergelab"))).toBe(fs.realpathSync(repoRoot));
  });

  it("installs per user into JUPYTER_DATA_DIR with --user", () => {
    const data = tempDir("mergelab-data-");
    const r = runCli(["kernel", "install", "--user"], { env: { JUPYTER_DATA_DIR: data } });
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(data, "kernels", "mergelab", "kernel.json"))).toBe(true);
    expect(fs.existsSync(path.join(data, "kernels", "tslab", "kernel.json"))).toBe(true);
  });

  it("rejects conflicting or unknown options with a clear message", () => {
    expect(runCli(["kernel", "install", "--user", "--prefix", "/tmp/x"])).toMatchObject({ code: 1, stderr: "mergelab: error: kernel install: --user and --prefix exclude each other\n" });
    expect(runCli(["kernel", "install", "--sys"])).toMatchObject({ code: 1, stderr: "mergelab: error: kernel install: unknown option '--sys'\n" });
    expect(runCli(["kernel", "start"])).toMatchObject({ code: 1, stderr: "mergelab: error: kernel start: --connection-file FILE is required\n" });
    const missing = runCli(["kernel", "start", "--connection-file", "/nonexistent/k.json"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^mergelab: error: cannot read the connection file \/nonexistent\/k\.json: ENOENT/);
  });

  it.skipIf(!canRun({ python: ["jupyter_client"] }))("is what jupyter_client finds on JUPYTER_PATH", () => {
    const prefix = tempDir("mergelab-prefix-");
    expect(runCli(["kernel", "install", "--prefix", prefix]).code).toBe(0);
    const env = jupyterEnv(path.join(prefix, "share", "jupyter"));
    const r = runPython(["-c", "import json; from jupyter_client.kernelspec import KernelSpecManager as K; s = K().get_all_specs(); print(json.dumps({k: s[k]['spec']['display_name'] for k in ('mergelab', 'tslab')}))"], { env });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ mergelab: "MergeLab", tslab: "TypeScript" });
  });
});
