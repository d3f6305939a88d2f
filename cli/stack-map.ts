/**
 * Stack traces through the bundled CLI (dist/bundle, scripts/bundle.mjs) read as without it: every
 * frame in a bundle file is mapped, through the source map written next to it, back to the dist/
 * module, line and column it came from. Used only to print an internal error (bin/mergelab.js), so
 * nothing of it loads on a normal start.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Segments of one generated line: [generated column, source index, original line, original column] (0-based). */
type Segment = [number, number, number, number];

interface SourceMap {
  sources: string[];
  sourceRoot?: string;
  mappings: string;
}

/** Source map v3 `mappings`, decoded into per-line segment lists (absolute values). */
export function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let src = 0, line = 0, col = 0;
  for (const text of mappings.split(";")) {
    const segs: Segment[] = [];
    let gen = 0;
    for (const seg of text.split(",")) {
      if (!seg) continue;
      const fields: number[] = [];
      let value = 0, shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      gen += fields[0]!;
      if (fields.length >= 4) {
        src += fields[1]!;
        line += fields[2]!;
        col += fields[3]!;
        segs.push([gen, src, line, col]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** A 1-based line and column of `file` (a bundle file with `file.map` beside it) → where it came from, or undefined. */
export function makeMapper(): (file: string, line: number, column: number) => { file: string; line: number; column: number } | undefined {
  const maps = new Map<string, { map: SourceMap; lines: Segment[][] } | null>();
  return (file, line, column) => {
    let m = maps.get(file);
    if (m === undefined) {
      try {
        const map = JSON.parse(fs.readFileSync(`${file}.map`, "utf8")) as SourceMap;
        m = { map, lines: decodeMappings(map.mappings) };
      } catch {
        m = null;
      }
      maps.set(file, m);
    }
    const segs = m?.lines[line - 1];
    if (!m || !segs || segs.length === 0) return undefined;
    // the last segment that starts at or before the column
    let best: Segment | undefined;
    for (const s of segs) {
      if (s[0] <= column - 1) best = s;
      else break;
    }
    best ??= segs[0]!;
    const source = m.map.sources[best[1]];
    if (source === undefined) return undefined;
    return { file: path.resolve(path.dirname(file), m.map.sourceRoot ?? "", source), line: best[2] + 1, column: best[3] + 1 };
  };
}

/** `stack` with each frame in a file under `bundleDir` replaced by its dist/ location (file URL or path, as written). */
export function unbundleStack(stack: string, bundleDir: string): string {
  const map = makeMapper();
  const dir = path.resolve(bundleDir) + path.sep;
  return stack.replace(/((?:file:\/\/)?\/[^\s()]+?\.js):(\d+):(\d+)/g, (whole, loc: string, l: string, c: string) => {
    const isUrl = loc.startsWith("file:");
    const file = isUrl ? fileURLToPath(loc) : loc;
    if (!file.startsWith(dir)) return whole;
    const to = map(file, Number(l), Number(c));
    if (!to) return whole;
    return `${isUrl ? pathToFileURL(to.file).href : to.file}:${to.line}:${to.column}`;
  });
}
