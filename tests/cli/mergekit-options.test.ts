// mergekit-yaml's options: accepted with mergekit's meaning, or a one-line note where they cannot apply.
import { describe, expect, it } from "vitest";
import { parseKmb, takeMergekitOptions } from "../../cli/mergekit/options.js";
import { MergelabError } from "../../core/errors.js";

describe("mergekit-yaml options", () => {
  it("--out-shard-size takes mergekit's K/M/B suffixes (powers of ten)", () => {
    expect(parseKmb("5B", "--out-shard-size")).toBe(5e9);
    expect(parseKmb("500M", "--out-shard-size")).toBe(5e8);
    expect(parseKmb("3k", "--out-shard-size")).toBe(3000);
    expect(parseKmb("1234", "--out-shard-size")).toBe(1234);
    expect(() => parseKmb("5GB", "--out-shard-size")).toThrow(MergelabError);
  });
  it("takes its flags out of argv and leaves mergelab's own and the positionals in order", () => {
    const { options, rest } = takeMergekitOptions(["cfg.yml", "out", "--cuda", "--out-shard-size=2M", "--allow-crimes", "--json", "--lazy-unpickle", "--lora-merge-cache", "/tmp/c", "--no-copy-tokenizer", "--overwrite", "-j", "3", "--random-seed", "7"]);
    expect(rest).toEqual(["cfg.yml", "out", "--json", "--workers", "3"]);
    expect(options).toMatchObject({ shardSize: 2e6, allowCrimes: true, copyTokenizer: false, overwrite: true, workers: 3, randomSeed: 7 });
    expect(options.notes).toHaveLength(3);
    expect(options.notes[0]).toMatch(/^--cuda: mergelab has no GPU backend/);
    expect(options.notes.every((n) => !n.includes("\n"))).toBe(true);
  });
  it("every option mergekit-yaml has is accepted (mergekit/options.py MergeOptions at the suite's commit: each bool as --X/--no-X)", () => {
    const bools = ["allow-crimes", "cuda", "low-cpu-memory", "copy-tokenizer", "clone-tensors", "trust-remote-code", "lazy-unpickle", "write-model-card", "safe-serialization", "quiet", "read-to-gpu", "multi-gpu", "async-write"];
    const valued: Array<[string, string]> = [["--transformers-cache", "/c"], ["--lora-merge-cache", "/c"], ["--lora-merge-dtype", "bfloat16"], ["--device", "cpu"], ["--out-shard-size", "1B"], ["--random-seed", "3"], ["--num-threads", "2"], ["-j", "2"], ["--write-threads", "2"]];
    const argv = ["cfg.yml", "out", ...bools.flatMap((b) => [`--${b}`, `--no-${b}`]), "--gpu-rich", "-v", "-vv", ...valued.flat()];
    const { rest } = takeMergekitOptions(argv);
    expect(rest.filter((a) => a.startsWith("-") && a !== "--quiet" && a !== "--workers")).toEqual([]);
  });
  it("a value option without its value is an error, not a silent default", () => {
    expect(() => takeMergekitOptions(["cfg.yml", "--out-shard-size"])).toThrow(/needs a value/);
    expect(() => takeMergekitOptions(["cfg.yml", "--random-seed", "x"])).toThrow(/non-negative integer/);
  });
});
