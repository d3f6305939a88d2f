#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm install` via the prepare script).
import { main } from "../dist/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`mergelab: internal error: ${err?.stack ?? err}\n`);
    process.exit(70);
  },
);
