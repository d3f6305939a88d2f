/**
 * Evaluation data from local files (schema in docs/evaluation.md):
 *
 * - texts (perplexity): a `.txt` file — documents separated by blank lines —
 *   or a `.jsonl` file with one `{"text": "..."}` object per line;
 * - multiple choice (loglik_choice): a `.jsonl` file with one
 *   `{"context": "...", "choices": ["...", ...], "gold": 0}` object per line.
 *
 * Errors point at the file, line and column of the bad record.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import type { ChoiceItem } from "./metrics.js";

function read(file: string, cwd: string): { abs: string; text: string } {
  const abs = path.resolve(cwd, file);
  try {
    return { abs, text: fs.readFileSync(abs, "utf8") };
  } catch {
    throw new MergelabError(`${file}: cannot read the file`, { file });
  }
}

const at = (file: string, line: number, col = 1) => ({ loc: { file, line, col }, file });

/** Non-empty lines of a JSONL file parsed, each with its 1-based line number. */
function jsonLines(file: string, text: string): Array<{ line: number; value: Record<string, unknown> }> {
  const out: Array<{ line: number; value: Record<string, unknown> }> = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new MergelabError(`not valid JSON: ${(e as Error).message}`, at(file, i + 1));
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MergelabError("expected a JSON object on each line", at(file, i + 1));
    out.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  if (out.length === 0) throw new MergelabError(`${file}: no records`, { file });
  return out;
}

/** Texts of a .txt (blank-line separated documents) or .jsonl ({"text": ...}) file. */
export function readTexts(file: string, cwd: string): string[] {
  const { text } = read(file, cwd);
  if (file.endsWith(".jsonl")) {
    return jsonLines(file, text).map(({ line, value }) => {
      if (typeof value.text !== "string") throw new MergelabError('expected a string field "text"', at(file, line));
      return value.text;
    });
  }
  const docs = text.replace(/\r\n?/g, "\n").split(/\n[ \t]*\n/).map((d) => d.trim()).filter((d) => d.length > 0);
  if (docs.length === 0) throw new MergelabError(`${file}: no text`, { file });
  return docs;
}

/** Multiple-choice items of a .jsonl file. */
export function readChoiceItems(file: string, cwd: string): ChoiceItem[] {
  const { text } = read(file, cwd);
  if (!file.endsWith(".jsonl")) throw new MergelabError(`${file}: multiple-choice items are read from a .jsonl file`, { file });
  return jsonLines(file, text).map(({ line, value }) => choiceItem(value, (msg) => new MergelabError(msg, at(file, line))));
}

/** Validate one item (from a file or a dict in the language). */
export function choiceItem(v: Record<string, unknown>, fail: (msg: string) => Error): ChoiceItem {
  if (typeof v.context !== "string") throw fail('expected a string field "context"');
  if (!Array.isArray(v.choices) || v.choices.length < 2 || v.choices.some((c) => typeof c !== "string")) throw fail('expected "choices": a list of at least two strings');
  if (typeof v.gold !== "number" || !Number.isInteger(v.gold) || v.gold < 0 || v.gold >= v.choices.length) throw fail(`expected "gold": the index of the correct choice (0..${v.choices.length - 1})`);
  return { context: v.context, choices: v.choices as string[], gold: v.gold };
}
