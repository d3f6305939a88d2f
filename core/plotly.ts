/**
 * plotly.js, offline, once per session. A figure's own `text/html` only draws
 * with `window.Plotly` (waiting for it briefly); the first figure a process
 * sends to a frontend carries the whole plotly.min.js source inline before it.
 * Outputs of a notebook load in order — in JupyterLab and in an HTML export —
 * so later figures of the session find `window.Plotly` defined. The injection
 * happens where bundles leave the process (the kernel's display sink and the
 * tslab helper), not in `Figure.toMimeBundle()`, so that asking a figure for
 * its text repr never uses up the one injection.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import type { MimeBundle } from "./values.js";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

let injected = false;
let source: string | undefined;

function plotlySource(): string {
  if (source === undefined) {
    const file = createRequire(import.meta.url).resolve("plotly.js-dist-min/plotly.min.js");
    // An inline script ends at the first "</script"; plotly.min.js has none today, but stay safe.
    source = fs.readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return source;
}

/** The `<script>` that defines window.Plotly (plotly.min.js assigns it itself). */
export function plotlyLoaderHtml(): string {
  return `<script type="text/javascript">/* plotly.js, inlined by mergelab */\n${plotlySource()}\n</script>\n`;
}

/**
 * The bundle as it should leave this process: the first plotly figure of the
 * session gets the plotly.js loader prepended to its HTML.
 */
export function withPlotlyOnce(bundle: MimeBundle): MimeBundle {
  if (injected || !(PLOTLY_MIME in bundle) || typeof bundle["text/html"] !== "string") return bundle;
  injected = true;
  return { ...bundle, "text/html": plotlyLoaderHtml() + bundle["text/html"] };
}

/** For tests: forget that plotly.js was sent (a new session). */
export function resetPlotlySession(): void {
  injected = false;
}
