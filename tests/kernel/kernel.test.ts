// The mergelab kernel driven over ZeroMQ by a test client: signatures, state
// across cells, results and errors, rich output, live progress, interrupts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { fixtures, tempDir } from "../helpers.js";
import { TestClient, type Msg } from "./client.js";

/** A safetensors file of F32 tensors filled with a per-model pattern (written here, independently of io). */
function writeCheckpoint(file: string, tensors: number, elements: number, seed: number): void {
  const header: Record<string, unknown> = {};
  for (let i = 0; i < tensors; i++) header[`model.layers.${i}.weight`] = { dtype: "F32", shape: [elements / 256, 256], data_offsets: [i * elements * 4, (i + 1) * elements * 4] };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const fd = fs.openSync(file, "w");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  const data = new Float32Array(elements);
  for (let i = 0; i < tensors; i++) {
    for (let j = 0; j < elements; j++) data[j] = Math.sin(j * 0.001 * (seed + 1) + i) * 0.01;
    fs.writeSync(fd, new Uint8Array(data.buffer));
  }
  fs.closeSync(fd);
}

const text = (m: Msg | undefined) => String(m?.content.data?.["text/plain"] ?? "");

describe("mergelab kernel over ZeroMQ", () => {
  let k: TestClient;
  beforeAll(async () => {
    k = await TestClient.start();
  }, 120_000);
  afterAll(async () => {
    expect(await k?.shutdown()).toBe(0);
  });

  it("reports kernel_info with language_info and the tfjs backend in the banner", async () => {
    const id = await k.send("shell", "kernel_info_request", {});
    const r = await k.reply("shell", id);
    expect(r.signedOk).toBe(true);
    expect(r.content).toMatchObject({ status: "ok", protocol_version: "5.3", implementation: "mergelab" });
    expect(r.content.language_info).toMatchObject({ name: "mergelab", file_extension: ".merge", mimetype: "text/x-mergelab", pygments_lexer: "python" });
    expect(r.content.banner).toMatch(/TensorFlow\.js backend: (wasm|cpu|tensorflow)/);
  });

  it("ignores a message signed with the wrong key", async () => {
    const bad = await k.send("shell", "execute_request", { code: "forged = 1", silent: false, store_history: true }, { badKey: true });
    await expect(k.reply("shell", bad, 1500)).rejects.toThrow("timed out");
    expect(k.iopubLog.filter((m) => m.parent_header.msg_id === bad)).toEqual([]);
    expect(k.stderr).toMatch(/rejected a shell message: message signature does not match/);
    // it never ran: the name is unbound
    const { reply } = await k.execute("forged");
    expect(reply.content).toMatchObject({ status: "error", evalue: "1:1: unknown name 'forged'" });
  });

  it("keeps bindings across cells and returns the trailing expression as execute_result", async () => {
    const a = await k.execute('x = 20\nprint("x is", x)');
    expect(a.reply.content).toMatchObject({ status: "ok" });
    expect(a.outputs.map((m) => m.header.msg_type)).toEqual(["execute_input", "stream"]);
    expect(a.outputs[1].content).toEqual({ name: "stdout", text: "x is 20\n" });
    const b = await k.execute("x * 2 + 2");
    const result = b.outputs.find((m) => m.header.msg_type === "execute_result")!;
    expect(result.content).toMatchObject({ execution_count: b.reply.content.execution_count, data: { "text/plain": "42" } });
    expect(b.reply.content.execution_count).toBe(a.reply.content.execution_count + 1);
  });

  it("reports errors with the cell's line:col and plain traceback lines (no JS stack), and aborts nothing after", async () => {
    const { reply, outputs } = await k.execute("a = 1\nb = nope + 1");
    const err = outputs.find((m) => m.header.msg_type === "error")!;
    const n = reply.content.execution_count;
    expect(reply.content).toMatchObject({ status: "error", ename: "MergelabError", evalue: "2:5: unknown name 'nope'" });
    expect(err.content.traceback).toEqual([`In[${n}]:2:5: error: unknown name 'nope'`, "b = nope + 1", "    ^~~~"]);
    const bad = await k.execute('ties([x], base=x, k=2)');
    expect(bad.reply.content.evalue).toMatch(/^1:\d+: /);
    expect(bad.reply.content.traceback.join("\n")).not.toMatch(/^\s+at .*\.js/m);
    expect((await k.execute("a")).reply.content.status).toBe("error"); // the failed cell bound nothing
  });

  it("completes bindings, functions and keyword arguments, and inspects a method from its spec", async () => {
    await k.execute("my_experts = [1, 2]");
    const c1 = await k.reply("shell", await k.send("shell", "complete_request", { code: "y = my_e", cursor_pos: 8 }));
    expect(c1.content).toMatchObject({ status: "ok", matches: ["my_experts"], cursor_start: 4, cursor_end: 8 });
    const c2 = await k.reply("shell", await k.send("shell", "complete_request", { code: "dare_ties(xs, se", cursor_pos: 16 }));
    expect(c2.content.matches).toEqual(["seed="]);
    const i = await k.reply("shell", await k.send("shell", "inspect_request", { code: "m = ties(xs)", cursor_pos: 6, detail_level: 0 }));
    expect(i.content.found).toBe(true);
    expect(i.content.data["text/plain"]).toMatch(/^ties\(xs, base/);
    expect(i.content.data["text/markdown"]).toMatch(/\*\*Parameters\*\*[\s\S]*`k \(also density\): number \| schedule, default 0\.2/);
    const none = await k.reply("shell", await k.send("shell", "inspect_request", { code: "zzz_unknown", cursor_pos: 3, detail_level: 0 }));
    expect(none.content).toMatchObject({ status: "ok", found: false, data: {} });
  });

  it("answers is_complete, comm_info and history", async () => {
    const ic = async (code: string) => (await k.reply("shell", await k.send("shell", "is_complete_request", { code }))).content.status;
    expect([await ic("x = 1"), await ic("x = ties(a,"), await ic("x = = 1")]).toEqual(["complete", "incomplete", "invalid"]);
    expect((await k.reply("shell", await k.send("shell", "comm_info_request", {}))).content).toEqual({ status: "ok", comms: {} });
    const h = await k.reply("shell", await k.send("shell", "history_request", { output: false, raw: true, hist_access_type: "search", pattern: "*+ 2" }));
    expect(h.content.history.map((e: unknown[]) => e[2])).toEqual(["x * 2 + 2"]);
  });

  it("shows a model as a summary table, a table as HTML + text, explain as an HTML plan", async () => {
    const f32 = path.join(fixtures, "tiny-llama-f32.safetensors");
    const f16 = path.join(fixtures, "tiny-llama-f16");
    const m = await k.execute(`m = average([load(${JSON.stringify(f32)}), load(${JSON.stringify(f16)})])\nm`);
    const model = m.outputs.find((o) => o.header.msg_type === "execute_result")!;
    expect(Object.keys(model.content.data).sort()).toEqual(["text/html", "text/plain"]);
    expect(model.content.data["text/html"]).toContain("<table");
    expect(model.content.data["text/html"]).toMatch(/<caption>model average\(\[.*tiny-llama-f32\.safetensors, .*tiny-llama-f16\]\)<\/caption>/);
    expect(model.content.data["text/html"]).toMatch(/tensors<\/th><td[^>]*>9</);
    const t = await k.execute('table([{method: "ties", k: 0.2, acc: 0.8125}, {method: "average", k: 1, acc: 0.75}])');
    const table = t.outputs.find((o) => o.header.msg_type === "execute_result")!;
    expect(table.content.data["text/html"]).toContain("<th>method</th><th>k</th><th>acc</th>");
    expect(table.content.data["text/html"]).toContain("<td>ties</td>");
    expect(table.content.data["text/plain"].split("\n")[2]).toBe("ties     0.2  0.8125");
    const e = await k.execute("explain(m)");
    const plan = e.outputs.find((o) => o.header.msg_type === "execute_result")!;
    expect(plan.content.data["text/html"]).toMatch(/<(table|div|pre)/);
    expect(text(plan)).toMatch(/plan/);
  });

  it("shows a save as a live progress bar: display_data, then update_display_data under the same display_id", async () => {
    const out = path.join(tempDir("mergelab-save-"), "avg");
    const { reply, outputs } = await k.execute(`save(m, ${JSON.stringify(out)})`);
    expect(reply.content.status, reply.content.evalue).toBe("ok");
    const bars = outputs.filter((o) => o.header.msg_type === "display_data" || o.header.msg_type === "update_display_data");
    expect(bars[0].header.msg_type).toBe("display_data");
    const id = bars[0].content.transient.display_id;
    expect(id).toMatch(/^mergelab-progress-/);
    expect(bars.slice(1).length).toBeGreaterThan(0);
    for (const b of bars.slice(1)) expect(b).toMatchObject({ header: { msg_type: "update_display_data" }, content: { transient: { display_id: id } } });
    const last = text(bars[bars.length - 1]);
    expect(last).toMatch(/^saving .*avg \[#{30}\] 100% · (\d+)\/\1 tensors · [\d.]+ [kMG]?B\/s · done in [\d.]+ s$/);
    expect(fs.existsSync(path.join(out, "model.safetensors"))).toBe(true);
  });
});

describe("interrupting a long merge", () => {
  let k: TestClient;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir("mergelab-interrupt-");
    // 4 models × 24 tensors × 512K f32 (48 MB each): a TIES merge of a few seconds here
    for (const [i, name] of ["base", "e1", "e2", "e3"].entries()) writeCheckpoint(path.join(dir, `${name}.safetensors`), 24, 512 * 1024, i);
    k = await TestClient.start({ cwd: dir });
    const setup = await k.execute('base = load("base.safetensors")\nxs = [load("e1.safetensors"), load("e2.safetensors"), load("e3.safetensors")]\nm = ties(xs, base=base, k=0.2)');
    expect(setup.reply.content.status).toBe("ok");
  }, 180_000);
  afterAll(async () => {
    await k?.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function interruptedSave(how: "message" | "signal", target: string): Promise<Msg[]> {
    const id = await k.send("shell", "execute_request", { code: `save(m, "${target}")`, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    // wait until the merge is under way (the progress bar appeared), then interrupt
    await k.waitFor(() => k.iopubLog.some((m) => m.parent_header.msg_id === id && m.header.msg_type === "display_data"), 120_000).catch((e) => {
      const seen = k.iopubLog.filter((m) => m.parent_header.msg_id === id).map((m) => `${m.header.msg_type} ${JSON.stringify(m.content).slice(0, 300)}`);
      throw new Error(`${e.message}: no progress bar; iopub for the save:\n${seen.join("\n")}\nkernel log:\n${k.stderr.slice(-3000)}`);
    });
    if (how === "message") {
      const r = await k.reply("control", await k.send("control", "interrupt_request", {}), 10_000);
      expect(r.content).toEqual({ status: "ok" });
    } else {
      k.proc.kill("SIGINT");
    }
    const reply = await k.reply("shell", id, 120_000);
    expect(reply.content, reply.content.evalue).toMatchObject({ status: "error", ename: "Interrupted" });
    return k.outputs(id);
  }

  for (const how of ["message", "signal"] as const) {
    it(`stops cleanly on ${how === "message" ? "interrupt_request" : "SIGINT"}: no output directory, no temporary files, state kept`, async () => {
      const target = `out-${how}`;
      const outputs = await interruptedSave(how, target);
      const bar = outputs.filter((o) => o.content.transient?.display_id).pop();
      expect(text(bar)).toMatch(/interrupted — nothing written$/);
      expect(text(bar)).not.toMatch(/\[#{30}\] 100%/);
      expect(outputs.find((o) => o.header.msg_type === "error")!.content.evalue).toBe("interrupted: the run stopped; nothing was written");
      expect(fs.readdirSync(dir).sort()).toEqual(["base.safetensors", "e1.safetensors", "e2.safetensors", "e3.safetensors"]);
      const after = await k.execute("len(xs)");
      expect(text(after.outputs.find((o) => o.header.msg_type === "execute_result"))).toBe("3");
    }, 300_000);
  }
});
