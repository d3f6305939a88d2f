/**
 * plotly.js, offline, only where asked for. A figure's bundle carries the
 * plotly JSON (front ends with a plotly renderer — JupyterLab, VS Code — draw
 * it interactively) and a static image (every other viewer); plotly.js itself
 * is NOT in it, so a notebook stays small. Two ways to have plotly.js anyway:
 *
 * - `MERGELAB_PLOTLY=inline` in the kernel's environment: each figure's
 *   `text/html` becomes a div holding the static image and a script that
 *   replaces it with the interactive figure once `window.Plotly` exists; the
 *   first figure a session sends carries plotly.min.js inline before it (an
 *   HTML export of such a notebook is interactive offline; ~4.7 MB each).
 * - `plotlyLoaderHtml()` + `interactiveFigureHtml()` for pages we write
 *   ourselves (the demo's offline report).
 *
 * The swap happens where bundles leave the process (the kernel's display sink
 * and the tslab helper), not in `Figure.toMimeBundle()`, so that asking a
 * figure for its text repr never uses up the one injection.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import type { MimeBundle } from "./values.js";
import { withoutWorkingDir } from "./present.js";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

let injected = false;
let figures = 0;
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

/** Whether figures leaving this process embed plotly.js (MERGELAB_PLOTLY=inline). */
export function plotlyInline(): boolean {
  return (process.env.MERGELAB_PLOTLY ?? "").toLowerCase() === "inline";
}

/**
 * A figure as HTML that is interactive where `window.Plotly` exists and shows
 * `fallback` (the static image) everywhere else: without JavaScript, with
 * scripts stripped, or when plotly.js is missing.
 */
export function interactiveFigureHtml(fig: { data: unknown; layout: unknown }, fallback: string, id: string): string {
  // JSON inside <script>: "<" escaped so no "</script>" or "<!--" can end it early.
  const json = JSON.stringify(fig).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
  const height = Number((fig.layout as { height?: number } | undefined)?.height ?? 420);
  return `<div id="${id}" class="mergelab-figure" style="width:100%;min-height:${height}px;">${fallback}</div>
<script type="text/javascript">
(function () {
  var el = document.getElementById("${id}"), fig = ${json};
  if (!el || !window.Plotly) return;
  el.innerHTML = ""; el.style.height = "${height}px";
  window.Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
})();
</script>`;
}

/**
 * The bundle as it should leave this process (the kernel's display sink and
 * the tslab helper call this on every bundle). Paths under the working
 * directory (the notebook's folder) are shown relative to it, so a committed
 * notebook carries no absolute paths. With MERGELAB_PLOTLY=inline a figure's
 * HTML becomes interactive, and the first figure of the session carries the
 * plotly.js loader.
 */
export function withPlotlyOnce(bundle: MimeBundle): MimeBundle {
  bundle = withoutWorkingDir(bundle);
  if (!plotlyInline() || !(PLOTLY_MIME in bundle) || typeof bundle["text/html"] !== "string") return bundle;
  const fig = bundle[PLOTLY_MIME] as { data: unknown; layout: unknown };
  const html = interactiveFigureHtml(fig, bundle["text/html"], `mergelab-fig-${++figures}`);
  const loader = injected ? "" : plotlyLoaderHtml();
  injected = true;
  return { ...bundle, "text/html": loader + html };
}

/** For tests: forget that plotly.js was sent (a new session). */
export function resetPlotlySession(): void {
  injected = false;
  figures = 0;
}
