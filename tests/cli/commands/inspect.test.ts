import path from "node:path";
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { expected, fixtures, runCli, tempDir } from "../../helpers.js";

describe("mergelab inspect", () => {
  it("lists tensors with dtype, shape and element count, totals per dtype and metadata (sharded bf16)", () => {
    const r = runCli(["inspect", path.join(fixtures, "tiny-llama-bf16-sharded")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(3 files\)/);
    expect(r.stdout).toMatch(/^lm_head\.weight\s+BF16\s+\[32, 8\]\s+256$/m);
    expect(r.stdout).toMatch(/^model\.layers\.0\.mlp\.up_proj\.weight\s+BF16\s+\[12, 8\]\s+96$/m);
    const elements = Object.values(expected["tiny-llama-bf16-sharded"] as Record<string, { shape: number[] }>).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(r.stdout).toContain(`total: 9 tensors, ${elements} elements, ${(2 * elements / 1000).toFixed(2)} kB (${2 * elements} bytes)`);
    expect(r.stdout).toMatch(/^ {2}BF16: 9 tensors/m);
    expect(r.stdout).toMatch(/^metadata:\n {2}format: pt$/m);
  });

  it("--json prints one JSON object with tensors, totals by dtype and metadata (mixed F32 + I64)", () => {
    const file = path.join(fixtures, "mixed-int-buffer.safetensors");
    const r = runCli(["inspect", file, "--json"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.path).toBe(file);
    expect(s.tensors.map((t: { name: string; dtype: string; shape: number[]; numel: number }) => [t.name, t.dtype, t.shape, t.numel])).toEqual([
      ["position_ids", "I64", [1, 16], 16],
      ["w", "F32", [4, 4], 16],
    ]);
    expect(s.totals).toEqual({ tensors: 2, elements: 32, bytes: 192, byDtype: { I64: { tensors: 1, elements: 16, bytes: 128 }, F32: { tensors: 1, elements: 16, bytes: 64 } } });
    expect(s.files[0].headerSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.metadata).toEqual(expect.any(Object));
  });

  it("--json on the f16 directory and the f32 file", () => {
    for (const name of ["tiny-llama-f16", "tiny-llama-f32.safetensors"]) {
      const s = JSON.parse(runCli(["inspect", "--json", path.join(fixtures, name)]).stdout);
      const want = expected[name] as Record<string, { shape: number[] }>;
      expect(Object.fromEntries(s.tensors.map((t: { name: string; shape: number[] }) => [t.name, t.shape]))).toEqual(Object.fromEntries(Object.entries(want).map(([k, v]) => [k, v.shape])));
      expect(Object.keys(s.totals.byDtype)).toEqual([name.includes("f16") ? "F16" : "F32"]);
    }
  });

  it("a malformed checkpoint gives one error line naming the file and tensor, no stack trace", () => {
    const dir = tempDir();
    try {
      const p = path.join(dir, "bad.safetensors");
      const header = Buffer.from(JSON.stringify({ w: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(header.length));
      fs.writeFileSync(p, Buffer.concat([len, header, Buffer.alloc(1)]));
      const r = runCli(["inspect", p]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`mergelab: error: ${p}: tensor 'w': unknown dtype "Q4" (known: F64, F32, F16, BF16, I8, U8, I16, U16, I32, U32, I64, U64, BOOL)\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a pickled checkpoint is refused with the reason and the fix", () => {
    const dir = tempDir();
    try {
      const p = path.join(dir, "pytorch_model.bin");
      fs.writeFileSync(p, "PK");
      const r = runCli(["inspect", p]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/can execute arbitrary code/);
      expect(r.stderr).toMatch(/safe_serialization=True/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("usage errors", () => {
    expect(runCli(["inspect"]).stderr).toMatch(/inspect: expected one PATH, got 0/);
    expect(runCli(["inspect", "a", "--bogus"]).stderr).toMatch(/unknown option '--bogus'/);
    expect(runCli(["inspect", "--help"]).stdout).toMatch(/usage: mergelab inspect PATH \[--json\]/);
  });
});
