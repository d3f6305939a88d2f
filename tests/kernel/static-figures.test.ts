// The committed notebooks as a viewer without JavaScript shows them (GitHub,
// nbviewer's static view, an untrusted notebook, nbconvert's exports): each
// notebook is light (< 1 MB), carries no absolute paths and no log spam, and
// every figure has a static image/svg+xml beside its plotly bundle. Exported
// with nbconvert to HTML and stripped of every <script>, each figure is drawn
// in headless Chromium — non-blank, coloured pixels inside each figure's box
// of a screenshot; the Markdown export references every figure as an image.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { tempDir } from "../helpers.js";
import { CHROMIUM, PYTHON, canRun, notebooksDir } from "./jupyter.js";

const PLOTLY = "application/vnd.plotly.v1+json";
const SVG = "image/svg+xml";
const runnable = canRun({ python: ["nbconvert", "nbformat"], chromium: true });
const notebooks = fs.readdirSync(notebooksDir).filter((f) => f.endsWith(".ipynb")).sort();

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}
interface Notebook {
  cells: Array<{ cell_type: string; source: string | string[]; outputs?: Output[] }>;
}

const joined = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join("") : t ?? "");
const outputsOf = (nb: Notebook) => nb.cells.flatMap((c) => c.outputs ?? []);
const figureOutputs = (nb: Notebook) => outputsOf(nb).filter((o) => o.data && PLOTLY in o.data);

// ---------------------------------------------------------------- PNG (Chromium's screenshots: 8-bit RGB/RGBA)

interface Image {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
}

function readPng(file: string): Image {
  const buf = fs.readFileSync(file);
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString("latin1", pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error("only 8-bit, non-interlaced PNGs");
      channels = { 2: 3, 6: 4 }[data[9]] ?? 0;
      if (!channels) throw new Error(`PNG colour type ${data[9]}`);
    } else if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? pixels[y * stride + i - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
      const p = a + b - c;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      pixels[y * stride + i] = (line[i] + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** Within a box: the share of pixels that are not near-white, and of clearly coloured (saturated) ones. */
function inkIn(img: Image, box: { x: number; y: number; w: number; h: number }): { ink: number; colour: number } {
  let ink = 0;
  let colour = 0;
  let n = 0;
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(img.height, Math.ceil(box.y + box.h)); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(img.width, Math.ceil(box.x + box.w)); x++) {
      const o = (y * img.width + x) * img.channels;
      const [r, g, b] = [img.pixels[o], img.pixels[o + 1], img.pixels[o + 2]];
      n++;
      if (Math.min(r, g, b) < 235) ink++;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colour++;
    }
  }
  return { ink: ink / Math.max(n, 1), colour: colour / Math.max(n, 1) };
}

// ---------------------------------------------------------------- chromium

const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--hide-scrollbars", "--disable-component-update"];
const WIDTH = 1100;

function chromium(args: string[], profile: string): string {
  const r = spawnSync(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: "utf8", timeout: 180_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** Our measuring script (the page's own scripts are gone): each static figure's box in page pixels. */
const MEASURE = `<script>window.addEventListener("load", function () {
  var boxes = Array.prototype.map.call(document.querySelectorAll("img.mergelab-static-figure, svg.mergelab-static-figure"), function (e) {
    var b = e.getBoundingClientRect(); return [b.left + scrollX, b.top + scrollY, b.width, b.height];
  });
  var pre = document.createElement("pre"); pre.id = "mergelab-boxes";
  pre.textContent = JSON.stringify({ boxes: boxes, height: document.documentElement.scrollHeight });
  document.body.appendChild(pre);
});</script>`;

const stripScripts = (html: string) => html.replace(/<script\b[\s\S]*?<\/script\s*>/gi, "");

describe.skipIf(!runnable)("committed notebooks without JavaScript", () => {
  const work = tempDir("mergelab-static-");
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const name of notebooks) {
    const file = path.join(notebooksDir, name);
    const stem = name.replace(/\.ipynb$/, "");

    it(`${name}: under 1 MB, no absolute paths, no log spam, a static SVG beside every plotly figure`, () => {
      const text = fs.readFileSync(file, "utf8");
      expect(Buffer.byteLength(text)).toBeLessThan(1_000_000);
      expect(text.match(/.{0,40}\/(work|home|root|tmp)\/.{0,40}/g) ?? []).toEqual([]);
      const nb = JSON.parse(text) as Notebook;
      for (const o of outputsOf(nb).filter((x) => x.output_type === "stream")) {
        const lines = joined(o.text).split("\n").filter((l) => l.trim() !== "");
        expect(lines.length, joined(o.text).slice(0, 400)).toBeLessThanOrEqual(12);
        expect(lines.filter((l) => /\b(epoch|step)\b.*\bloss\b/i.test(l)), "training logs").toEqual([]);
      }
      const figures = figureOutputs(nb);
      expect(figures.length).toBeGreaterThan(0);
      for (const o of figures) {
        const svg = joined(o.data![SVG] as string | string[]);
        expect(svg, "image/svg+xml").toMatch(/^<svg [^>]*class="mergelab-static-figure"/);
        // plotly.js itself is not inlined into the notebook
        expect(joined(o.data!["text/html"] as string | string[] | undefined)).not.toMatch(/plotly\.js, inlined/);
      }
    });

    it(`${name}: exported to HTML with scripts stripped, every figure is drawn in headless Chromium`, () => {
      const dir = path.join(work, `${stem}-html`);
      const r = spawnSync(PYTHON, ["-m", "nbconvert", "--to", "html", "--output-dir", dir, file], { encoding: "utf8", timeout: 300_000 });
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      const html = stripScripts(fs.readFileSync(path.join(dir, `${stem}.html`), "utf8"));
      expect(html).not.toMatch(/<script/i);
      const page = path.join(dir, `${stem}.static.html`);
      fs.writeFileSync(page, html.replace(/<\/body>/i, `${MEASURE}</body>`));

      const profile = path.join(work, `${stem}-profile`);
      const dom = chromium([`--window-size=${WIDTH},900`, "--dump-dom", `file://${page}`], profile);
      const m = /<pre id="mergelab-boxes">([^<]*)<\/pre>/.exec(dom);
      expect(m, "measuring script ran").not.toBeNull();
      const { boxes, height } = JSON.parse(m![1].replace(/&quot;/g, '"')) as { boxes: number[][]; height: number };
      const nb = JSON.parse(fs.readFileSync(file, "utf8")) as Notebook;
      expect(boxes).toHaveLength(figureOutputs(nb).length);

      const shot = path.join(dir, `${stem}.png`);
      chromium([`--window-size=${WIDTH},${Math.ceil(height)}`, `--screenshot=${shot}`, `file://${page}`], profile);
      const img = readPng(shot);
      boxes.forEach(([x, y, w, h], i) => {
        expect(w, `figure ${i} width`).toBeGreaterThan(200);
        expect(h, `figure ${i} height`).toBeGreaterThan(150);
        const { ink, colour } = inkIn(img, { x, y, w, h });
        // axes, labels and marks: a drawn figure, not an empty box
        expect(ink, `figure ${i}: ink`).toBeGreaterThan(0.01);
        // a scatter of a dozen markers colours ~0.1% of its box; an empty one none
        expect(colour, `figure ${i}: coloured marks`).toBeGreaterThan(0.0005);
      });
    }, 600_000);

    it(`${name}: the Markdown export contains every figure as an image`, () => {
      const dir = path.join(work, `${stem}-md`);
      const r = spawnSync(PYTHON, ["-m", "nbconvert", "--to", "markdown", "--output-dir", dir, file], { encoding: "utf8", timeout: 300_000 });
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      const md = fs.readFileSync(path.join(dir, `${stem}.md`), "utf8");
      // nbconvert's Markdown takes a figure's text/html (an <img> of the SVG), or the SVG itself as a file
      const inline = [...md.matchAll(/<img class="mergelab-static-figure" src="data:image\/svg\+xml;base64,([^"]+)"/g)].map((x) => Buffer.from(x[1], "base64").toString("utf8"));
      const files = [...md.matchAll(/!\[[^\]]*\]\(([^)]+\.svg)\)/g)].map((x) => fs.readFileSync(path.join(dir, decodeURI(x[1])), "utf8"));
      const images = [...inline, ...files];
      const nb = JSON.parse(fs.readFileSync(file, "utf8")) as Notebook;
      expect(images).toHaveLength(figureOutputs(nb).length);
      for (const svg of images) {
        expect(svg).toMatch(/<svg [^>]*class="mergelab-static-figure"/);
        expect(svg).toMatch(/class="(point|point bar|cell)"/);
      }
    }, 600_000);
  }
});
