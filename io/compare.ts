/**
 * Cross-model checks from headers alone: before a merge reads any tensor
 * data, every model must have the same tensor names and shapes. Mixed dtypes
 * matter when a tensor is computed in one model and carried through in
 * another (F32 vs I64), or carried through with different integer types; two
 * float dtypes (BF16 vs F16) are both computed in float32 and are reported
 * only as a note for the caller's choice of output dtype.
 */
import { MergelabError } from "../core/errors.js";
import type { Checkpoint } from "./checkpoint.js";
import { isComputedFloat, type DType } from "./dtypes.js";

export interface MissingTensor {
  tensor: string;
  /** Checkpoint that has it / lacks it (paths). */
  presentIn: string;
  missingFrom: string;
}

export interface ShapeMismatch {
  tensor: string;
  a: { file: string; shape: number[] };
  b: { file: string; shape: number[] };
}

export interface MixedDtype {
  tensor: string;
  dtypes: Array<{ file: string; dtype: DType }>;
  /** true when it prevents a merge (a computed float vs a carried-through dtype, or two different carried dtypes). */
  matters: boolean;
}

export interface CompatibilityReport {
  missing: MissingTensor[];
  shapeMismatches: ShapeMismatch[];
  mixedDtypes: MixedDtype[];
}

/** Compare every checkpoint with the first (the base, by convention). */
export function compareCheckpoints(ckpts: readonly Checkpoint[]): CompatibilityReport {
  const report: CompatibilityReport = { missing: [], shapeMismatches: [], mixedDtypes: [] };
  if (ckpts.length < 2) return report;
  const [ref, ...rest] = ckpts;
  for (const other of rest) {
    for (const t of ref.tensors) if (!other.has(t.name)) report.missing.push({ tensor: t.name, presentIn: ref.path, missingFrom: other.path });
    for (const t of other.tensors) if (!ref.has(t.name)) report.missing.push({ tensor: t.name, presentIn: other.path, missingFrom: ref.path });
  }
  for (const t of ref.tensors) {
    const infos = ckpts.filter((c) => c.has(t.name)).map((c) => c.tensor(t.name));
    for (const u of infos.slice(1)) {
      if (u.shape.length !== t.shape.length || u.shape.some((d, i) => d !== t.shape[i])) {
        report.shapeMismatches.push({ tensor: t.name, a: { file: t.file, shape: t.shape }, b: { file: u.file, shape: u.shape } });
      }
    }
    const dtypes = new Set(infos.map((u) => u.dtype));
    if (dtypes.size > 1) {
      const matters = ![...dtypes].every(isComputedFloat);
      report.mixedDtypes.push({ tensor: t.name, dtypes: infos.map((u) => ({ file: u.file, dtype: u.dtype })), matters });
    }
  }
  return report;
}

/** Throw a MergelabError (naming the tensor and both files) for the first problem that prevents a merge. */
export function assertCompatible(ckpts: readonly Checkpoint[]): CompatibilityReport {
  const r = compareCheckpoints(ckpts);
  const m = r.missing[0];
  if (m) {
    throw new MergelabError(`tensor '${m.tensor}' is in ${m.presentIn} but missing from ${m.missingFrom}${more(r.missing.length)}`, { file: m.missingFrom, tensor: m.tensor });
  }
  const s = r.shapeMismatches[0];
  if (s) {
    throw new MergelabError(
      `tensor '${s.tensor}': shape [${s.a.shape.join(", ")}] in ${s.a.file} but [${s.b.shape.join(", ")}] in ${s.b.file}${more(r.shapeMismatches.length)}`,
      { file: s.b.file, tensor: s.tensor },
    );
  }
  const d = r.mixedDtypes.find((x) => x.matters);
  if (d) {
    const list = d.dtypes.map((x) => `${x.dtype} in ${x.file}`).join(", ");
    throw new MergelabError(`tensor '${d.tensor}' has incompatible dtypes: ${list}`, { file: d.dtypes[1].file, tensor: d.tensor });
  }
  return r;
}

const more = (n: number) => (n > 1 ? ` (and ${n - 1} more)` : "");
