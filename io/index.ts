/**
 * io: safetensors checkpoints in and out.
 * headers (validation) → byte-range reads → streaming writer.
 *
 * Reading:
 *   const c = openCheckpoint("models/base");       // validates every header; reads no tensor data
 *   for (const t of c.tensors) { ... t.name, t.dtype, t.shape, t.numel ... }
 *   c.readF32(name, startElem, count, out?)        // decoded chunk (exact for F32/F16/BF16);
 *                                                  // out = allocF32(n) decodes bf16/f16 in place (fastest)
 *   c.readRaw(name, startByte, byteCount, out?)    // carried-through bytes (I64, BOOL, F64, ...)
 *   assertCompatible([base, ...experts])           // names, shapes, dtype mixes that matter
 *   worker: Checkpoint.fromDescription(c.describe())
 *
 * Writing:
 *   const w = CheckpointWriter.create(dir, [{name, dtype, shape}, ...],
 *     {metadata: provenanceMetadata({recipe, version, inputs}), copyFrom: base.path, extraFiles: {"README.md": card}, overwrite});
 *   w.writeF32(name, elemStart, chunk) / w.writeRaw(name, byteStart, bytes)   // any order
 *   w.commit()   // or w.abort() on any failure
 *   worker: writeChunkF32(w.describe(), name, elemStart, chunk) → bytes; main thread: w.noteWritten(name, bytes)
 */
export {
  DTYPES, isDType, dtypeSize, isComputedFloat,
  f32ToBf16, f32ToF16, f32BitsToBf16, f32BitsToF16, bf16BitsToF32, f16BitsToF32, f32Bits, f32FromBits,
  decodeToF32, encodeFromF32, decode16, encodeChunks, f16BitsToF32Bits,
  type DType, type DTypeInfo,
} from "./dtypes.js";
export { simdKernels, useSimd, allocF32, SIMD_CHUNK } from "./simd.js";
export { readSafetensorsHeader, ioCounters, MAX_HEADER_BYTES, PICKLE_ADVICE, type TensorInfo, type SafetensorsHeader } from "./safetensors.js";
export {
  openCheckpoint, Checkpoint, compareTensorNames, INDEX_FILE, SINGLE_FILE,
  type CheckpointDescription, type CheckpointFile, type ReadStats,
} from "./checkpoint.js";
export { compareCheckpoints, assertCompatible, type CompatibilityReport, type MissingTensor, type ShapeMismatch, type MixedDtype } from "./compare.js";
export {
  writeChunkF32, writeChunkRaw, closeChunkFiles, parseSize, planShards, DEFAULT_SHARD_SIZE,
  type OutputTensor, type WriterLayout, type LaidOutTensor,
} from "./layout.js";
export { CheckpointWriter, provenanceMetadata, nonWeightFiles, type WriterOptions } from "./writer.js";
