/**
 * Jupyter kernel specs for this install of mergelab: `mergelab` (cells are the
 * merge language) and `tslab` (TypeScript, `import { mx, plot } from
 * "mergelab"`). Both start with this install's node binary and absolute
 * paths, so no global npm install is needed.
 *
 * Where (jupyter_client's layout, https://jupyter-client.readthedocs.io/en/stable/kernels.html#kernel-specs):
 *   --prefix DIR → DIR/share/jupyter/kernels/NAME
 *   --user       → $JUPYTER_DATA_DIR or ~/.local/share/jupyter (XDG_DATA_HOME) /kernels/NAME
 *   default      → --user, or /usr/local/share/jupyter when run as root (like `jupyter kernelspec install`)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MergelabError } from "../core/errors.js";

/** The package root (where package.json and bin/mergelab.js live), from dist/kernel or kernel. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json")) || !fs.existsSync(path.join(dir, "bin", "mergelab.js"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new MergelabError("cannot find mergelab's package root (bin/mergelab.js)");
    dir = up;
  }
  return dir;
}

export interface InstallOptions {
  user?: boolean;
  prefix?: string;
}

export function kernelsDir(opts: InstallOptions): string {
  if (opts.prefix) return path.resolve(opts.prefix, "share", "jupyter", "kernels");
  if (opts.user || process.getuid?.() !== 0) {
    const data = process.env.JUPYTER_DATA_DIR ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "jupyter");
    return path.join(data, "kernels");
  }
  return "/usr/local/share/jupyter/kernels";
}

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode?: "signal" | "message";
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

export function mergelabKernelSpec(root = packageRoot()): KernelSpec {
  return {
    argv: [process.execPath, path.join(root, "bin", "mergelab.js"), "kernel", "start", "--connection-file", "{connection_file}"],
    display_name: "MergeLab",
    language: "mergelab",
    // interrupt_request on the control channel; SIGINT works too.
    interrupt_mode: "message",
    metadata: { debugger: false },
  };
}

/** tslab's TypeScript kernel, as tslab's own installer writes it, but with absolute paths. */
export function tslabKernelSpec(root = packageRoot()): KernelSpec {
  const tslab = tslabBin(root);
  return {
    argv: [process.execPath, tslab, "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript",
    language: "typescript",
  };
}

function tslabBin(root: string): string {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const bin = path.join(dir, "node_modules", "tslab", "bin", "tslab");
    if (fs.existsSync(bin)) return bin;
    if (path.dirname(dir) === dir) throw new MergelabError("tslab is not installed (npm install tslab)");
  }
}

/**
 * tslab type-checks imports with TypeScript's node10 resolution, which does not
 * know a package's self-reference: inside this repository, `import … from
 * "mergelab"` needs node_modules/mergelab. Link it to the package root when the
 * package is not itself installed under node_modules.
 */
export function linkSelfForTslab(root = packageRoot()): string | undefined {
  if (root.split(path.sep).includes("node_modules")) return undefined;
  const link = path.join(root, "node_modules", "mergelab");
  if (fs.existsSync(path.join(link, "package.json"))) return undefined;
  fs.mkdirSync(path.dirname(link), { recursive: true });
  try {
    fs.rmSync(link, { force: true }); // a dangling link
    fs.symlinkSync("..", link, "dir");
  } catch (e) {
    // another install linked it at the same moment
    if ((e as NodeJS.ErrnoException).code !== "EEXIST" || !fs.existsSync(path.join(link, "package.json"))) {
      throw new MergelabError(`cannot link ${link} to the package root: ${(e as Error).message}`);
    }
    return undefined;
  }
  return link;
}

export interface Installed {
  name: string;
  dir: string;
}

/** Write both kernel specs; returns where they went. */
export function installKernelSpecs(opts: InstallOptions = {}): { installed: Installed[]; linked?: string } {
  const root = packageRoot();
  const base = kernelsDir(opts);
  const installed: Installed[] = [];
  for (const [name, spec] of [["mergelab", mergelabKernelSpec(root)], ["tslab", tslabKernelSpec(root)]] as const) {
    const dir = path.join(base, name);
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
    } catch (e) {
      throw new MergelabError(`cannot write the ${name} kernel spec to ${dir}: ${(e as Error).message}`);
    }
    installed.push({ name, dir });
  }
  return { installed, linked: linkSelfForTslab(root) };
}
