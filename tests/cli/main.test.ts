import { describe, expect, it } from "vitest";
import { runCli } from "../helpers.js";

describe("mergelab CLI shell", () => {
  it("lists its commands and exits 2 without one", () => {
    const r = runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/usage: mergelab <command>/);
    expect(r.stdout).toMatch(/\n  inspect /);
  });
  it("rejects an unknown command with a clear message and no stack", () => {
    const r = runCli(["mrege"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'mrege'/);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });
});
