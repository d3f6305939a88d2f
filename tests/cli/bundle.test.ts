/**
 * The bundled CLI (dist/bundle, scripts/bundle.mjs) that `mergelab check` runs for its start-up:
 * it is built with dist/, a check loads nothing else of dist/, it says exactly what dist/ says
 * (MERGELAB_BUNDLE=0 runs dist/), and an internal error's stack trace reads the same through it.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "../helpers.js";
import { makeWorkspace } from "../dsl/workspace.js";

const ws = makeWorkspace();
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));
const bundleDir = path.join(repoRoot, "dist/bundle");

function script(name: string, text: string): string {
  fs.writeFileSync(path.join(ws, name), text);
  return name;
}

const scripts = [
  script("ok.merge", 'base = load("models/base")\nm = ties(load_all("models/experts/*"), base=base, k=0.2)\nsave(m, "out/ties")\n'),
  script("syntax.merge", 'base = load("models/base"\nm = linear([base], weights=[1])\n'),
  script("names.merge", 'base = laod("models/base")\nm = ties([bse], base=base, k=1.5)\nsave(m, "out")\n'),
  script("shapes.merge", 'm = linear([load("models/base"), load("models/wrong-shape.safetensors")], weights=[0.5, 0.5])\nsave(m, "out/w")\n'),
  script("eval.merge", 'z = zoo(16)\nprint(mean_score(evaluate(z.base, tasks("held_out"))))\nperplexity(load("models/base"), ["a b c"])\n'),
  script(
    "config.yml",
    "models:\n  - model: models/experts/a\n    parameters:\n      weight: 0.5\n  - model: models/experts/b.safetensors\n    parameters:\n      weight: 0.5\nmerge_method: linear\ndtype: float32\n",
  ),
];

describe("the bundled CLI", () => {
  it("is built with dist/ (newer than dist/cli/main.js, so bin/mergelab.js uses it)", () => {
    const bundle = fs.statSync(path.join(bundleDir, "main.js")).mtimeMs;
    expect(bundle).toBeGreaterThanOrEqual(fs.statSync(path.join(repoRoot, "dist/cli/main.js")).mtimeMs);
    expect(fs.existsSync(path.join(bundleDir, "worker.js"))).toBe(true); // where the pool looks for it
  });

  it("a check loads no module of dist/ outside the bundle (and every module it loads is a bundle file or a package)", () => {
    // a loader hook reports every module URL the process loads
    const hook = `data:text/javascript,${encodeURIComponent(
      'export async function load(url, ctx, next) { if (url.startsWith("file:")) process._rawDebug("LOADED " + url); return next(url, ctx); }',
    )}`;
    const reg = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(hook)});`)}`;
    const r = spawnSync(process.execPath, ["--import", reg, path.join(repoRoot, "bin/mergelab.js"), "check", "ok.merge"], { cwd: ws, encoding: "utf8" });
    expect(r.stdout).toBe("ok.merge: ok (1 save)\n");
    const loaded = r.stderr.split("\n").filter((l) => l.startsWith("LOADED ")).map((l) => l.slice(7));
    const dist = pathToFileURL(path.join(repoRoot, "dist")).href + "/";
    const bundle = pathToFileURL(bundleDir).href + "/";
    expect(loaded.filter((u) => u.startsWith(bundle)).length).toBeGreaterThan(0);
    expect(loaded.filter((u) => u.startsWith(dist) && !u.startsWith(bundle))).toEqual([]);
    // the same check through dist/ loads dozens of modules: what the bundle saves
    const d = spawnSync(process.execPath, ["--import", reg, path.join(repoRoot, "bin/mergelab.js"), "check", "ok.merge"], {
      cwd: ws,
      encoding: "utf8",
      env: { ...process.env, MERGELAB_BUNDLE: "0" },
    });
    expect(d.stderr.split("\n").filter((l) => l.startsWith(`LOADED ${dist}`)).length).toBeGreaterThan(40);
  });

  it.each(scripts)("check %s: the same exit code, output and diagnostics as dist/", (file) => {
    const bundled = runCli(["check", file], { cwd: ws });
    const plain = runCli(["check", file], { cwd: ws, env: { MERGELAB_BUNDLE: "0" } });
    expect(bundled).toEqual(plain);
    expect(bundled.stderr).not.toMatch(/internal error|\bat .*\.js:\d+/);
  });

  it("check with --set, --help and a missing file: the same as dist/", () => {
    for (const args of [["check", "ok.merge", "--set", "kk=1"], ["check", "--help"], ["check", "nowhere.merge"], ["check"]]) {
      expect(runCli(args, { cwd: ws })).toEqual(runCli(args, { cwd: ws, env: { MERGELAB_BUNDLE: "0" } }));
    }
  });

  it("an internal error's stack trace through the bundle, mapped back, is the one dist/ gives", () => {
    // a non-string argument reaches the argument parser: a TypeError, not a MergelabError; in a plain
    // node process (vitest rewrites stack traces), through main() of dist/ and of the bundle
    const child = `
      const [dist, bundle, mapper] = process.argv.slice(1);
      const stackOf = async (entry) => {
        const { main } = await import(entry);
        try { await main(["check", Symbol("not a string")]); } catch (e) { return e.stack; }
        throw new Error("no internal error");
      };
      const plain = await stackOf(dist);
      const raw = await stackOf(bundle);
      const { unbundleStack } = await import(mapper);
      console.log(JSON.stringify({ plain, raw, mapped: unbundleStack(raw, ${JSON.stringify(bundleDir)}) }));`;
    const url = (p: string) => pathToFileURL(path.join(repoRoot, p)).href;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", child, url("dist/cli/main.js"), url("dist/bundle/main.js"), url("dist/cli/stack-map.js")], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    const { plain, raw, mapped } = JSON.parse(r.stdout) as Record<string, string>;
    const frames = (s: string) => s.split("\n").filter((l) => l.includes("/dist/"));
    expect(frames(raw).some((l) => l.includes("/dist/bundle/"))).toBe(true);
    expect(frames(plain).length).toBeGreaterThanOrEqual(3);
    expect(frames(mapped)).toEqual(frames(plain));
    expect(mapped.split("\n")[0]).toBe(plain.split("\n")[0]);
  });
});
