// A minimal Jupyter client over zeromq for the kernel tests: starts
// `mergelab kernel start` on a fresh connection file and speaks the wire
// protocol itself (frames signed here with node:crypto, independently of the
// kernel's own protocol module).
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import * as zmq from "zeromq";
import { repoRoot, tempDir } from "../helpers.js";

export interface Msg {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, any>;
  signature: string;
  signedOk: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/**
 * Resolve once `pred()` holds: re-checked whenever a message arrives (the receive loop calls every
 * function in `waiters`) and at least every `pollMs`; throws "timed out" after `timeoutMs`.
 */
export async function waitUntil(pred: () => boolean, timeoutMs: number, waiters: Array<() => void>, pollMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    const left = end - Date.now();
    if (left <= 0) throw new Error("timed out");
    await new Promise<void>((r) => {
      const t = setTimeout(r, Math.min(left, pollMs));
      waiters.push(() => (clearTimeout(t), r()));
    });
  }
}

export class TestClient {
  readonly session = randomUUID();
  readonly iopubLog: Msg[] = [];
  stderr = "";
  private shell = new zmq.Dealer({ routingId: `shell-${randomUUID()}` });
  private control = new zmq.Dealer({ routingId: `control-${randomUUID()}` });
  private iopub = new zmq.Subscriber();
  private waiters: Array<() => void> = [];
  private shellReplies: Msg[] = [];
  private controlReplies: Msg[] = [];

  private constructor(
    readonly proc: ChildProcess,
    readonly key: string,
    readonly cwd: string,
  ) {}

  static async start(opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<TestClient> {
    const dir = tempDir("mergelab-kernel-");
    const [shell, control, stdin, iopub, hb] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    const key = randomUUID();
    const conn = { transport: "tcp", ip: "127.0.0.1", shell_port: shell, control_port: control, stdin_port: stdin, iopub_port: iopub, hb_port: hb, key, signature_scheme: "hmac-sha256", kernel_name: "mergelab" };
    const file = path.join(dir, "kernel.json");
    fs.writeFileSync(file, JSON.stringify(conn));
    const cwd = opts.cwd ?? dir;
    const proc = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), "kernel", "start", "--connection-file", file], { cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    const c = new TestClient(proc, key, cwd);
    proc.stderr!.on("data", (d) => (c.stderr += String(d)));
    proc.stdout!.on("data", (d) => (c.stderr += String(d)));
    c.shell.connect(`tcp://127.0.0.1:${shell}`);
    c.control.connect(`tcp://127.0.0.1:${control}`);
    c.iopub.connect(`tcp://127.0.0.1:${iopub}`);
    c.iopub.subscribe();
    void c.pump(c.shell, c.shellReplies, 0);
    void c.pump(c.control, c.controlReplies, 0);
    void c.pump(c.iopub, c.iopubLog, 1);
    // jupyter_client's wait-for-ready: kernel_info until answered (iopub needs a moment to connect)
    const deadline = Date.now() + 60_000;
    for (;;) {
      const id = await c.send("shell", "kernel_info_request", {});
      try {
        await c.reply("shell", id, 1000);
        await c.waitFor(() => c.iopubLog.some((m) => m.parent_header.msg_id === id && m.content.execution_state === "idle"), 2000);
        return c;
      } catch {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`kernel did not start:\n${c.stderr}`);
      }
    }
  }

  private sign(parts: string[], key = this.key): string {
    const h = createHmac("sha256", key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private async pump(sock: zmq.Dealer | zmq.Subscriber, into: Msg[], skip: number): Promise<void> {
    try {
      for await (const raw of sock) {
        const f = raw.map(String);
        const at = f.indexOf("<IDS|MSG>");
        const [signature, header, parent, , content] = f.slice(at + 1, at + 6);
        void skip;
        into.push({ header: JSON.parse(header), parent_header: JSON.parse(parent), content: JSON.parse(content), signature, signedOk: signature === this.sign(f.slice(at + 2, at + 6)) });
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      /* closed */
    }
  }

  /** Send a request; `badKey` signs with the wrong key (the kernel must ignore it). */
  async send(channel: "shell" | "control", msgType: string, content: object, opts: { badKey?: boolean } = {}): Promise<string> {
    const header = { msg_id: randomUUID(), session: this.session, username: "test", date: new Date().toISOString(), msg_type: msgType, version: "5.3" };
    const parts = [JSON.stringify(header), "{}", "{}", JSON.stringify(content)];
    const sig = this.sign(parts, opts.badKey ? "not-the-key" : this.key);
    await (channel === "shell" ? this.shell : this.control).send(["<IDS|MSG>", sig, ...parts]);
    return header.msg_id;
  }

  waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    return waitUntil(pred, timeoutMs, this.waiters, 200);
  }

  async reply(channel: "shell" | "control", msgId: string, timeoutMs = 60_000): Promise<Msg> {
    const box = channel === "shell" ? this.shellReplies : this.controlReplies;
    await this.waitFor(() => box.some((m) => m.parent_header.msg_id === msgId), timeoutMs);
    return box.find((m) => m.parent_header.msg_id === msgId)!;
  }

  /** iopub messages of one request, once it went idle (status messages excluded). */
  async outputs(msgId: string, timeoutMs = 60_000): Promise<Msg[]> {
    await this.waitFor(() => this.iopubLog.some((m) => m.parent_header.msg_id === msgId && m.content.execution_state === "idle"), timeoutMs);
    return this.iopubLog.filter((m) => m.parent_header.msg_id === msgId && m.header.msg_type !== "status");
  }

  async execute(code: string, timeoutMs = 120_000): Promise<{ reply: Msg; outputs: Msg[] }> {
    const id = await this.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    const reply = await this.reply("shell", id, timeoutMs);
    return { reply, outputs: await this.outputs(id, timeoutMs) };
  }

  async shutdown(): Promise<number | null> {
    if (this.proc.exitCode === null) {
      const id = await this.send("control", "shutdown_request", { restart: false });
      await this.reply("control", id, 10_000).catch(() => undefined);
      await new Promise<void>((r) => {
        const t = setTimeout(() => (this.proc.kill("SIGKILL"), r()), 10_000);
        this.proc.once("exit", () => (clearTimeout(t), r()));
        if (this.proc.exitCode !== null) (clearTimeout(t), r());
      });
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    return this.proc.exitCode;
  }
}
