#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm install` via the prepare script). `mergelab check` runs
// the same code bundled into a few files (dist/bundle, scripts/bundle.mjs), which starts faster, when
// that bundle is newer than dist/ (a later `tsc` alone makes it stale); MERGELAB_BUNDLE=0 never uses it.
import fs from "node:fs";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const bundle = new URL("../dist/bundle/", import.meta.url);

function bundleIsFresh() {
  try {
    return fs.statSync(new URL("main.js", bundle)).mtimeMs >= fs.statSync(new URL("../dist/cli/main.js", import.meta.url)).mtimeMs;
  } catch {
    return false;
  }
}

const bundled = argv.find((a) => a !== "--verbose") === "check" && process.env.MERGELAB_BUNDLE !== "0" && bundleIsFresh();
const { main } = await import(bundled ? new URL("main.js", bundle).href : "../dist/cli/main.js");

main(argv).then(
  (code) => process.exit(code),
  async (err) => {
    let stack = err?.stack ?? err;
    if (bundled && typeof stack === "string") {
      // frames in the bundle, mapped back to the dist/ modules they came from
      try {
        const { unbundleStack } = await import("../dist/cli/stack-map.js");
        stack = unbundleStack(stack, fileURLToPath(bundle));
      } catch {
        // the bundle's own positions, then
      }
    }
    process.stderr.write(`mergelab: internal error: ${stack}\n`);
    process.exit(70);
  },
);
