/**
 * Issue #17, data loss: a save() that would write over or into an input, an
 * ancestor of an input, the working directory or a directory that is not a
 * model output is refused whatever `overwrite` says, and leaves every byte of
 * the working directory (inputs and script included) as it was; a tensor
 * named `__proto__` survives a save.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel, saveModel } from "../../index.js";
import { runCli } from "../helpers.js";
import { expectClean, readF32, snapshot, workspace, writeF32 } from "./util.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function ws(): string {
  const d = workspace();
  dirs.push(d);
  return d;
}

/** Run `script` in a fresh workspace; it must be refused (exit 1, a clear message) and change no byte. */
function expectRefused(script: string, message: RegExp, setup?: (dir: string) => void) {
  const dir = ws();
  setup?.(dir);
  fs.writeFileSync(path.join(dir, "exp.merge"), script);
  const before = snapshot(dir);
  const r = runCli(["run", "exp.merge", "--quiet"], { cwd: dir });
  expectClean(r, script);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(snapshot(dir)).toEqual(before);
}

describe("save() never writes over or into what it reads, or the working directory", () => {
  it("refuses the weights file of an input (overwrite=true)", () => {
    expectRefused('a = load("models/a")\nsave(a, "models/a/model.safetensors", overwrite=true)\n', /input|reads/);
  });

  it("refuses an input directory itself (overwrite=true)", () => {
    expectRefused('a = load("models/a")\nb = load("models/b")\nsave(a * 2 + b, "models/a", overwrite=true)\n', /input|reads/);
  });

  it("refuses the working directory (overwrite=true): the script survives", () => {
    expectRefused('b = load("models/b")\nsave(b, ".", overwrite=true)\n', /working directory/);
  });

  it("refuses an ancestor of the working directory", () => {
    const dir = ws();
    const sub = path.join(dir, "exp");
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, "exp.merge"), 'b = load("../models/b")\nsave(b, "..", overwrite=true)\n');
    const before = snapshot(dir);
    const r = runCli(["run", "exp.merge", "--quiet"], { cwd: sub });
    expectClean(r);
    expect(r.code).toBe(1);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses the parent folder of the inputs (overwrite=true)", () => {
    expectRefused('a = load("models/a")\nb = load("models/b")\nsave(a + b, "models", overwrite=true)\n', /input|reads/);
  });

  it("refuses a path inside an input directory", () => {
    expectRefused('a = load("models/a")\nsave(a * 2, "models/a/sub", overwrite=true)\n', /input|reads/);
  });

  it("refuses an input reached through a symlink", () => {
    expectRefused('a = load("models/a")\nsave(a * 2, "link", overwrite=true)\n', /input|reads/, (dir) => fs.symlinkSync("models/a", path.join(dir, "link")));
  });

  it("refuses to replace a directory that is not a model output (overwrite=true)", () => {
    expectRefused('a = load("models/a")\nsave(a * 2, "notes", overwrite=true)\n', /not a model/, (dir) => {
      fs.mkdirSync(path.join(dir, "notes", "drafts"), { recursive: true });
      fs.writeFileSync(path.join(dir, "notes", "todo.txt"), "precious\n");
      fs.writeFileSync(path.join(dir, "notes", "drafts", "x.txt"), "precious too\n");
    });
  });

  it("still replaces an earlier output with overwrite=true", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nsave(a * 2, "out", overwrite=true)\n');
    expect(runCli(["run", "exp.merge", "--quiet"], { cwd: dir }).code).toBe(0);
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nsave(a * 3, "out", overwrite=true)\n');
    const r = runCli(["run", "exp.merge", "--quiet"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const a = readF32(path.join(dir, "models/a/model.safetensors")).get("model.norm.weight")!;
    expect(readF32(path.join(dir, "out/model.safetensors")).get("model.norm.weight")).toEqual(a.map((x) => Math.fround(x * 3)));
  });

  it("the refusal names overwrite=true, not a --force option that does not exist", () => {
    const dir = ws();
    fs.mkdirSync(path.join(dir, "out"));
    fs.writeFileSync(path.join(dir, "out", "model.safetensors"), "x");
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nsave(a, "out")\n');
    const r = runCli(["run", "exp.merge", "--quiet"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/overwrite=true/);
    expect(r.stderr).not.toMatch(/--force/);
  });

  it("the API's refusal (saveModel) does not mention --force either", async () => {
    const dir = ws();
    fs.mkdirSync(path.join(dir, "out"));
    fs.writeFileSync(path.join(dir, "out", "model.safetensors"), "x");
    const a = loadModel(path.join(dir, "models/a"));
    const err = await saveModel(a, path.join(dir, "out"), { workers: 0 }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/overwrite/);
    expect(err?.message).not.toMatch(/--force/);
  });
});

describe("tensor names are never object keys", () => {
  it("a tensor named __proto__ (and other Object.prototype names) survives load → save", () => {
    const dir = ws();
    const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "model.norm.weight"];
    writeF32(
      path.join(dir, "models/odd/model.safetensors"),
      names.map((name, i) => ({ name, shape: [2], values: [i + 1, -(i + 1)] })),
    );
    fs.writeFileSync(path.join(dir, "exp.merge"), 'm = load("models/odd")\nsave(m * 2, "out")\n');
    const r = runCli(["run", "exp.merge", "--quiet"], { cwd: dir });
    expectClean(r);
    expect(r.code, r.stderr).toBe(0);
    const out = readF32(path.join(dir, "out/model.safetensors"));
    expect([...out.keys()].sort()).toEqual([...names].sort());
    names.forEach((n, i) => expect([...out.get(n)!], n).toEqual([2 * (i + 1), -2 * (i + 1)]));
    const inspect = runCli(["inspect", "out"], { cwd: dir });
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain("__proto__");
  });
});
