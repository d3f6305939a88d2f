/**
 * `mergelab inspect PATH [--json]`: a checkpoint's tensors (dtype, shape,
 * element count), totals per dtype, and metadata — from the headers only.
 */
import { MergelabError } from "../../core/errors.js";
import { parseSimpleArgs } from "../args.js";
import { escapeControl as esc } from "../format.js";
import { openCheckpoint, type Checkpoint } from "../../io/index.js";
import { formatBytes } from "../../core/present.js";

const USAGE = "usage: mergelab inspect PATH [--json]\n\nPATH is a Hugging Face model directory or a .safetensors file.";

export interface InspectSummary {
  path: string;
  files: Array<{ path: string; bytes: number; headerSha256: string }>;
  tensors: Array<{ name: string; dtype: string; shape: number[]; numel: number; bytes: number; file: string }>;
  totals: { tensors: number; elements: number; bytes: number; byDtype: Record<string, { tensors: number; elements: number; bytes: number }> };
  metadata: Record<string, string>;
  indexMetadata: Record<string, unknown>;
}

export function summarize(c: Checkpoint): InspectSummary {
  const byDtype: InspectSummary["totals"]["byDtype"] = {};
  let elements = 0;
  let bytes = 0;
  for (const t of c.tensors) {
    const d = (byDtype[t.dtype] ??= { tensors: 0, elements: 0, bytes: 0 });
    d.tensors++;
    d.elements += t.numel;
    d.bytes += t.byteLength;
    elements += t.numel;
    bytes += t.byteLength;
  }
  return {
    path: c.path,
    files: c.files.map((f) => ({ path: f.path, bytes: f.size, headerSha256: f.sha256 })),
    tensors: c.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, numel: t.numel, bytes: t.byteLength, file: t.file })),
    totals: { tensors: c.tensors.length, elements, bytes, byDtype },
    metadata: { ...c.metadata },
    indexMetadata: { ...c.indexMetadata },
  };
}

export function formatSummary(s: InspectSummary): string {
  // names and metadata come from the file: never print their control characters raw (ANSI/OSC escapes)
  const rows = s.tensors.map((t) => [esc(t.name), t.dtype, `[${t.shape.join(", ")}]`, t.numel.toLocaleString("en-US")]);
  const header = ["tensor", "dtype", "shape", "elements"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  const out = [`${esc(s.path)}  (${s.files.length} file${s.files.length === 1 ? "" : "s"})`, "", line(header), ...rows.map(line), ""];
  const fmt = (x: { tensors: number; elements: number; bytes: number }) =>
    `${x.tensors} tensors, ${x.elements.toLocaleString("en-US")} elements, ${x.bytes < 1000 ? `${x.bytes} bytes` : `${formatBytes(x.bytes, 2)} (${x.bytes} bytes)`}`;
  out.push(`total: ${fmt(s.totals)}`);
  for (const [dtype, d] of Object.entries(s.totals.byDtype).sort()) out.push(`  ${dtype}: ${fmt(d)}`);
  const meta = Object.entries(s.metadata);
  out.push("", meta.length ? "metadata:" : "metadata: (none)");
  for (const [k, v] of meta) out.push(`  ${esc(k)}: ${esc(v.length > 200 ? v.slice(0, 200) + "…" : v)}`);
  return out.join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const { help, json, positional: rest } = parseSimpleArgs(argv, "inspect", USAGE);
  if (help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (rest.length !== 1) throw new MergelabError(`inspect: expected one PATH, got ${rest.length}\n${USAGE}`);
  const ckpt = openCheckpoint(rest[0]);
  try {
    const s = summarize(ckpt);
    // JSON.stringify escapes C0 controls; C1 (e.g. U+009B, a one-byte CSI) is escaped here too
    process.stdout.write((json ? JSON.stringify(s, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : formatSummary(s)) + "\n");
  } finally {
    ckpt.close();
  }
  return 0;
}
