/**
 * mergekit YAML in, with source positions out. js-yaml gives values but not
 * where they came from, so `locate(path)` finds a key or list item by walking
 * the block structure of the text (indentation, `- ` items, one flow level).
 * It returns the nearest position it can resolve: an error always points at
 * the key it is about, or at worst at an enclosing one.
 */
import yaml from "js-yaml";
import { MergelabError } from "../../core/errors.js";

export type YamlPath = ReadonlyArray<string | number>;

/** Deeper YAML is refused before parsing: js-yaml recurses once per level and would overflow the stack. */
export const MAX_YAML_DEPTH = 100;

/**
 * Where the YAML first nests deeper than MAX_YAML_DEPTH: flow brackets
 * (`[`, `{` outside quotes and comments) plus block levels (indentation and
 * `- ` items), counted per line.
 */
function nestingProblem(text: string): Position | undefined {
  const indents: number[] = [];
  let flow = 0;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const content = line.trimStart();
    if (flow === 0 && content !== "" && !content.startsWith("#")) {
      const indent = line.length - content.length;
      while (indents.length && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      const dashes = /^(-\s+)*/.exec(content)![0].split("-").length - 1; // "- - x": nested sequences on one line
      if (indents.length + dashes > MAX_YAML_DEPTH) return { line: n + 1, col: indent + 1 };
    }
    let quote: string | undefined;
    for (let c = 0; c < line.length; c++) {
      const ch = line[c]!;
      if (quote) {
        if (ch === quote) quote = undefined;
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === "#" && (c === 0 || /\s/.test(line[c - 1]!))) break;
      else if (ch === "[" || ch === "{") {
        if (++flow + indents.length > MAX_YAML_DEPTH) return { line: n + 1, col: c + 1 };
      } else if (ch === "]" || ch === "}") flow = Math.max(0, flow - 1);
    }
  }
  return undefined;
}
export interface Position {
  line: number; // 1-based
  col: number; // 1-based
}

/** One logical line of a block: its content starts at `col` (0-based). */
interface Entry {
  line: number; // 0-based
  col: number;
  text: string;
}

export class YamlDoc {
  readonly value: unknown;
  private readonly entries: Entry[];

  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    const deep = nestingProblem(text);
    if (deep) throw new MergelabError(`YAML nested more than ${MAX_YAML_DEPTH} levels deep; a mergekit config needs a handful`, { loc: { file, ...deep } });
    try {
      this.value = yaml.load(text, { filename: file, schema: yaml.CORE_SCHEMA });
    } catch (e) {
      if (e instanceof RangeError) throw new MergelabError(`YAML nested too deeply to read (${e.message})`, { loc: { file, line: 1, col: 1 } });
      if (e instanceof yaml.YAMLException) {
        const mark = e.mark as { line: number; column: number } | undefined;
        throw new MergelabError(`invalid YAML: ${e.reason}`, { loc: { file, line: (mark?.line ?? 0) + 1, col: (mark?.column ?? 0) + 1 } });
      }
      throw e;
    }
    this.entries = text.split(/\r?\n/).flatMap((raw, line) => {
      const stripped = stripComment(raw);
      const col = stripped.length - stripped.trimStart().length;
      const content = stripped.trim();
      return content ? [{ line, col, text: content }] : [];
    });
  }

  /** A MergelabError located at `path` (`["models", 1, "parameters", "weight"]`). */
  error(path: YamlPath, message: string, point: "key" | "value" = "value"): MergelabError {
    const at = this.locate(path, point);
    return new MergelabError(message, { loc: { file: this.file, line: at.line, col: at.col } });
  }

  /** Where `path` is: its value when on the key's line (or the key itself with point="key"). */
  locate(path: YamlPath, point: "key" | "value" = "value"): Position {
    let block = this.entries;
    let best: Entry | undefined = this.entries[0];
    for (const [i, step] of path.entries()) {
      const found = typeof step === "number" ? item(block, step) : key(block, step);
      if (!found) break;
      best = point === "key" && i === path.length - 1 ? found.key ?? found.at : found.at;
      block = found.body;
    }
    return best ? { line: best.line + 1, col: best.col + 1 } : { line: 1, col: 1 };
  }
}

/** Drop a `# comment` that is not inside quotes. */
function stripComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

interface Found {
  /** Where the key or item is (the value's position when it is on the same line). */
  at: Entry;
  /** The key itself (for "unknown key" errors). */
  key?: Entry;
  /** The value's own block. */
  body: Entry[];
}

/** Entries after `i` that are indented deeper than `col`: the body of entry i. */
function bodyAfter(block: Entry[], i: number, col: number): Entry[] {
  const out: Entry[] = [];
  for (let j = i + 1; j < block.length && block[j].col > col; j++) out.push(block[j]);
  return out;
}

function key(block: Entry[], name: string): Found | undefined {
  if (block.length === 0) return undefined;
  const first = block[0];
  if (first.text.startsWith("{")) return flowKey(first, name);
  const indent = Math.min(...block.map((e) => e.col));
  const re = new RegExp(`^(["']?)${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\1\\s*:(\\s|$)`);
  for (let i = 0; i < block.length; i++) {
    const e = block[i];
    if (e.col !== indent || !re.test(e.text)) continue;
    const colon = e.text.indexOf(":");
    const rest = e.text.slice(colon + 1);
    const inline = rest.trim();
    const body = bodyAfter(block, i, e.col);
    if (inline) {
      const valueCol = e.col + colon + 1 + (rest.length - rest.trimStart().length);
      const value: Entry = { line: e.line, col: valueCol, text: inline };
      return { at: value, key: e, body: [value, ...body] };
    }
    return { at: e, key: e, body };
  }
  return undefined;
}

function item(block: Entry[], index: number): Found | undefined {
  if (block.length === 0) return undefined;
  const first = block[0];
  if (first.text.startsWith("[")) return flowItem(first, index);
  const indent = Math.min(...block.map((e) => e.col));
  let n = -1;
  for (let i = 0; i < block.length; i++) {
    const e = block[i];
    if (e.col !== indent || !/^-(\s|$)/.test(e.text)) continue;
    if (++n !== index) continue;
    const rest = e.text.slice(1);
    const inline = rest.trim();
    const body = bodyAfter(block, i, e.col);
    if (!inline) return { at: e, body };
    const value: Entry = { line: e.line, col: e.col + 1 + (rest.length - rest.trimStart().length), text: inline };
    return { at: value, body: [value, ...body] };
  }
  return undefined;
}

/** `{a: 1, b: [2, 3]}` on one line: the position of `name:` (one nesting level). */
function flowKey(e: Entry, name: string): Found | undefined {
  const m = new RegExp(`([{,]\\s*)(["']?)${name}\\2\\s*:\\s*`).exec(e.text);
  if (!m) return undefined;
  const at: Entry = { line: e.line, col: e.col + m.index + m[0].length, text: e.text.slice(m.index + m[0].length) };
  const keyAt: Entry = { line: e.line, col: e.col + m.index + m[1].length, text: name };
  return { at, key: keyAt, body: [at] };
}

/** `[a, b, c]` on one line: the position of the index-th element (top level only). */
function flowItem(e: Entry, index: number): Found | undefined {
  let depth = 0;
  let n = 0;
  for (let i = 0; i < e.text.length; i++) {
    const c = e.text[i];
    if (c === "[" || c === "{") {
      depth++;
      if (depth === 1) continue;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) n++;
    if (depth >= 1 && n === index && c !== "," && !/\s/.test(c)) {
      const at: Entry = { line: e.line, col: e.col + i, text: e.text.slice(i) };
      return { at, body: [at] };
    }
  }
  return undefined;
}
