/**
 * Text ↔ token ids with a checkpoint's own `tokenizer.json` (and
 * `tokenizer_config.json` when present), through @huggingface/tokenizers —
 * the same pipeline (normalizer, pre-tokenizer, BPE/WordPiece/Unigram model,
 * post-processor) as the Rust `tokenizers` library transformers uses.
 */
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { MergelabError } from "../../core/errors.js";

export class TextTokenizer {
  constructor(
    private readonly tok: Tokenizer,
    /** Where it was read from, for messages. */
    readonly file: string,
  ) {}

  /** Token ids of `text`; special tokens (BOS…) only with `special` (the post-processor's template). */
  encode(text: string, special = false): number[] {
    const { ids, tokens } = this.tok.encode(text, { add_special_tokens: special });
    const bad = ids.findIndex((id: number | undefined) => id === undefined);
    if (bad >= 0) throw new MergelabError(`${this.file}: token ${JSON.stringify(tokens[bad])} has no id and the tokenizer no unk_token`, { file: this.file });
    return ids;
  }

  decode(ids: readonly number[], skipSpecial = false): string {
    return this.tok.decode([...ids], { skip_special_tokens: skipSpecial });
  }

  /** Id of a token string (e.g. "<|endoftext|>"), or undefined. */
  id(token: string): number | undefined {
    return this.tok.token_to_id(token) ?? undefined;
  }
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new MergelabError(`${file}: ${(e as Error).message}`, { file });
  }
}

/** The tokenizer of checkpoint directory `dir`, or undefined when it has no tokenizer.json. */
export function loadTokenizer(dir: string): TextTokenizer | undefined {
  const file = path.join(dir, "tokenizer.json");
  if (!fs.existsSync(file)) return undefined;
  const cfgFile = path.join(dir, "tokenizer_config.json");
  const cfg = fs.existsSync(cfgFile) ? readJson(cfgFile) : {};
  const json = readJson(file);
  // tokenizers.js runs WordLevel models through its vocabulary-lookup model, which takes unk_token from the config
  const model = json.model as { unk_token?: string } | undefined;
  if (model?.unk_token !== undefined) cfg.unk_token ??= model.unk_token;
  try {
    return new TextTokenizer(new Tokenizer(json, cfg), file);
  } catch (e) {
    if (e instanceof MergelabError) throw e;
    throw new MergelabError(`${file}: cannot build a tokenizer: ${(e as Error).message}`, { file });
  }
}
