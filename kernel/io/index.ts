/**
 * kernel/io: safetensors checkpoints in and out.
 * headers (validation) → byte-range reads → streaming writer.
 */
export {
  DTYPES, isDType, dtypeSize, isComputedFloat,
  f32ToBf16, f32ToF16, f32BitsToBf16, f32BitsToF16, bf16BitsToF32, f16BitsToF32, f32Bits, f32FromBits,
  decodeToF32, encodeFromF32,
  type DType, type DTypeInfo,
} from "./dtypes.js";
export { readSafetensorsHeader, ioCounters, MAX_HEADER_BYTES, PICKLE_ADVICE, type TensorInfo, type SafetensorsHeader } from "./safetensors.js";
export {
  openCheckpoint, Checkpoint, compareTensorNames, INDEX_FILE, SINGLE_FILE,
  type CheckpointDescription, type CheckpointFile, type ReadStats,
} from "./checkpoint.js";
export { compareCheckpoints, assertCompatible, type CompatibilityReport, type MissingTensor, type ShapeMismatch, type MixedDtype } from "./compare.js";
export {
  CheckpointWriter, writeChunkF32, writeChunkRaw, closeChunkFiles, parseSize, planShards, nonWeightFiles, DEFAULT_SHARD_SIZE,
  type OutputTensor, type WriterOptions, type WriterLayout, type LaidOutTensor,
} from "./writer.js";
