import { describe, expect, it } from "vitest";
import { fixtures, runCli } from "../helpers.js";

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

describe("--verbose", () => {
  it("reports the TensorFlow.js backend in use, and MERGELAB_BACKEND forces one", () => {
    const cpu = runCli(["inspect", "--verbose", `${fixtures}/tiny-llama-f32.safetensors`], { env: { MERGELAB_BACKEND: "cpu" } });
    expect(cpu.code).toBe(0);
    expect(cpu.stderr).toMatch(/^mergelab: tensor runtime: TensorFlow\.js \d+\.\d+\.\d+, backend cpu$/m);
    expect(cpu.stdout).toMatch(/model\.norm\.weight/);
    const auto = runCli(["inspect", "--verbose", `${fixtures}/tiny-llama-f32.safetensors`], { env: { MERGELAB_BACKEND: "" } });
    // tfjs-node cannot install offline, so the automatic choice here is wasm (or tensorflow where it loads)
    expect(auto.stderr).toMatch(/backend (wasm|tensorflow)$/m);
  });
  it("rejects an unknown MERGELAB_BACKEND with a clear message", () => {
    const r = runCli(["inspect", "--verbose", `${fixtures}/tiny-llama-f32.safetensors`], { env: { MERGELAB_BACKEND: "gpu" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MERGELAB_BACKEND=gpu: expected tensorflow, wasm or cpu/);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });
});
