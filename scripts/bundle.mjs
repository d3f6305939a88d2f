#!/usr/bin/env node
// `npm run build` (and `npm install`'s prepare), after tsc: bundles the compiled CLI, dist/cli/main.js,
// into dist/bundle/ — the same modules joined into a few files, for `mergelab check`'s start-up (issue
// #16). Node 20 pays about a millisecond to resolve, read and link each of the ~90 ES modules a check
// loads; the bundle loads a handful. Nothing is transformed: no minification, names kept, packages
// (chevrotain, tfjs, js-yaml, ...) left to node_modules. Lazy imports stay lazy (code splitting: one chunk
// per lazily loaded part), and the executor's worker is an entry too, next to the chunks, where the
// pool looks for it (new URL("./worker.js", import.meta.url)).
//
// bin/mergelab.js uses the bundle only when it is newer than dist/cli/main.js (a later `tsc` alone
// leaves it stale and dist/ runs), and maps an internal error's stack back to dist/ through the
// source maps written here (cli/stack-map.ts), so stack traces read as without the bundle.
//
// esbuild comes with tsx (a dependency); it is resolved from there so that no second copy is needed.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const out = path.join(dist, "bundle");
const esbuild = createRequire(createRequire(path.join(root, "package.json")).resolve("tsx/package.json"))("esbuild");

// The maps must lead to dist/*.js (what a stack trace shows without the bundle), not through tsc's
// maps on to the .ts sources: drop the sourceMappingURL comments esbuild would follow.
const distOnlyMaps = {
  name: "dist-only-maps",
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(dist + path.sep)) return undefined;
      const text = fs.readFileSync(args.path, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
      return { contents: text, loader: "js" };
    });
  },
};

const tmp = `${out}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
try {
  await esbuild.build({
    entryPoints: { main: path.join(dist, "cli/main.js"), worker: path.join(dist, "engine/exec/worker.js") },
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    keepNames: false,
    sourcemap: "external",
    sourcesContent: false, // the maps only lead back to dist/, which is there
    chunkNames: "chunk-[hash]",
    logLevel: "warning",
    plugins: [distOnlyMaps],
  });
  fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(tmp, out);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
