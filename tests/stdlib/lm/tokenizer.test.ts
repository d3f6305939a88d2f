/**
 * Tokenisation through tokenizer.json against ids derived by hand from the
 * file's own vocabulary and merges, and lm-evaluation-harness's pair encoding.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../../../stdlib/lm/tokenizer.js";
import { rollingWindows } from "../../../stdlib/lm/metrics.js";
import { tempDir } from "../../helpers.js";
import { wordLevelTokenizer } from "./harness.js";

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** A GPT-2-style byte-level BPE: "Ġ" is the byte-level image of a space. */
const bpe = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [special(0, "<unk>"), special(1, "<s>")],
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: "BPE",
    dropout: null,
    unk_token: "<unk>",
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    vocab: { "<unk>": 0, "<s>": 1, h: 2, e: 3, l: 4, o: 5, "Ġ": 6, w: 7, r: 8, d: 9, he: 10, ll: 11, hell: 12, hello: 13, "Ġw": 14, or: 15, "Ġwor": 16, "Ġworl": 17, "Ġworld": 18 },
    merges: ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"],
  },
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function tokenizerDir(json: object): string {
  const d = tempDir("mergelab-tok-");
  dirs.push(d);
  fs.writeFileSync(path.join(d, "tokenizer.json"), JSON.stringify(json));
  return d;
}

describe("tokenizer.json", () => {
  it("byte-level BPE: merges applied in rank order, spaces as Ġ, the GPT-2 split of runs of spaces", () => {
    const tok = loadTokenizer(tokenizerDir(bpe))!;
    // hello → h e l l o → he l l o → he ll o → hell o → hello (13); " world" → Ġ w o r l d → Ġw or l d → Ġwor l d → Ġworl d → Ġworld (18)
    expect(tok.encode("hello world")).toEqual([13, 18]);
    expect(tok.encode("hello world", true)).toEqual([1, 13, 18]);
    // "hell" stops after the merge "he ll"; "low": no merge applies → l, o, w
    expect(tok.encode("hell low")).toEqual([12, 6, 4, 5, 7]);
    // two spaces: \s+(?!\S) takes the first space alone, the second starts " world"
    expect(tok.encode("hello  world")).toEqual([13, 6, 18]);
    // "word": Ġw or d (no merge "Ġwor d")
    expect(tok.encode(" word")).toEqual([16, 9]);
    expect(tok.decode([13, 6, 18])).toBe("hello  world");
    expect(tok.id("Ġworld")).toBe(18);
  });

  it("word level: whitespace split, unknown words map to <unk>", () => {
    const tok = loadTokenizer(tokenizerDir(wordLevelTokenizer(["the", "cat", "sat"])))!;
    expect(tok.encode("the cat  sat")).toEqual([2, 3, 4]);
    expect(tok.encode("the dog")).toEqual([2, 0]);
    expect(tok.encode("cat", true)).toEqual([1, 3]);
  });

  it("a directory without tokenizer.json has no tokenizer; a broken one is a clear error", () => {
    const d = tempDir("mergelab-tok-");
    dirs.push(d);
    expect(loadTokenizer(d)).toBeUndefined();
    fs.writeFileSync(path.join(d, "tokenizer.json"), "{ not json");
    expect(() => loadTokenizer(d)).toThrow(/tokenizer\.json: /);
  });
});

describe("lm-evaluation-harness rolling windows (get_rolling_token_windows, context_len 1, then make_disjoint_window)", () => {
  it("first window from the prefix token, later ones conditioned on the max_length tokens before them", () => {
    const toks = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    // harness: ([1,10,11,12], [10..13]); ([13,14,15,16], [14..17]) → ctx [13]; ([15..18], [18,19]) → ctx [15,16,17]
    expect(rollingWindows(toks, 1, 4)).toEqual([
      { tokens: [1, 10, 11, 12, 13], scored: 4 },
      { tokens: [13, 14, 15, 16, 17], scored: 4 },
      { tokens: [15, 16, 17, 18, 19], scored: 2 },
    ]);
    expect(rollingWindows([7, 8], 1, 4)).toEqual([{ tokens: [1, 7, 8], scored: 2 }]);
    expect(rollingWindows([], 1, 4)).toEqual([]);
  });
});
