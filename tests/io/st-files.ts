// Test helpers: safetensors files built byte by byte (independent of the writer under test).
import fs from "node:fs";
import path from "node:path";

/** 8-byte little-endian length (or `lengthOverride`), the header text, then `data`. */
export function rawSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Buffer {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(text.length));
  return Buffer.concat([len, text, Buffer.from(data)]);
}

/** Copy a fixture (file or directory) into `dir`, writable. */
export function copyFixture(src: string, dir: string): string {
  const dest = path.join(dir, path.basename(src));
  fs.cpSync(src, dest, { recursive: true });
  const chmod = (p: string) => {
    fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) chmod(path.join(p, f));
  };
  chmod(dest);
  return dest;
}

/** Every path under `dir` (relative), sorted: to assert nothing was created or left behind. */
export function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}
