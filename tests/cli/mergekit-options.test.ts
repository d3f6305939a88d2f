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
  it("a value option without its value is an error, not a silent default", () => {
    expect(() => takeMergekitOptions(["cfg.yml", "--out-shard-size"])).toThrow(/needs a value/);
    expect(() => takeMergekitOptions(["cfg.yml", "--random-seed", "x"])).toThrow(/non-negative integer/);
  });
});
