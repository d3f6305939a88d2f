/**
 * Rich display from TypeScript (tslab notebooks, or plain Node).
 *
 * tslab's public `display.raw(mime, value)` sends one mime type per message,
 * but a figure must go out as ONE bundle (plotly JSON + HTML + text) so that
 * each frontend picks what it renders. tslab's kernel keeps the current cell's
 * display writer in `tslab/dist/jupyter.js` (`lastWriteDisplayData(data,
 * update)`, reset at every execute_request); we hand it the whole bundle. Under
 * plain Node (no tslab kernel loaded in this process) the text/plain form is
 * printed instead.
 */
import { createRequire } from "node:module";
import type { MimeBundle } from "./values.js";
import { valueToMimeBundle } from "./present.js";
import { withPlotlyOnce } from "./plotly.js";

type TslabWriter = (data: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => void;

const require = createRequire(import.meta.url);

/** tslab's display writer when this process is a tslab kernel, else undefined. */
function tslabWriter(): TslabWriter | undefined {
  let file: string;
  try {
    file = require.resolve("tslab/dist/jupyter.js");
  } catch {
    return undefined;
  }
  // Only if tslab's kernel already loaded it: requiring it here would start nothing useful.
  const mod = require.cache[file]?.exports as { lastWriteDisplayData?: TslabWriter } | undefined;
  return typeof mod?.lastWriteDisplayData === "function" ? mod.lastWriteDisplayData : undefined;
}

export interface DisplayOptions {
  /** Names the output so later calls with `update: true` replace it (update_display_data). */
  displayId?: string;
  update?: boolean;
}

/** Send a mime bundle to the notebook (tslab), or print its text/plain form. */
export function displayBundle(bundle: MimeBundle, opts: DisplayOptions = {}): void {
  const write = tslabWriter();
  if (!write) {
    if (!opts.update) process.stdout.write(String(bundle["text/plain"] ?? "") + "\n");
    return;
  }
  const transient = opts.displayId ? { display_id: opts.displayId } : {};
  write({ data: withPlotlyOnce(bundle), metadata: {}, transient }, Boolean(opts.update && opts.displayId));
}

/**
 * A CallContext `display` for sessions driven from TypeScript: rich output in
 * a tslab notebook, nothing elsewhere (a CLI or script has no notebook to
 * update, and progress bars should not print).
 */
export function notebookDisplay(bundle: MimeBundle, opts: DisplayOptions = {}): void {
  if (tslabWriter()) displayBundle(bundle, opts);
}

/** Display any value: a figure, a table, a model, a plan (anything with toMimeBundle), or its repr. */
export function displayValue(value: unknown, opts: DisplayOptions = {}): void {
  displayBundle(valueToMimeBundle(value), opts);
}

/** Whether this process is a tslab kernel (so rich output reaches a notebook). */
export function inTslab(): boolean {
  return tslabWriter() !== undefined;
}
