/**
 * A raw Jupyter wire client for the hostile kernel tests: starts `mergelab
 * kernel start` on a fresh connection file and sends arbitrary frames, signed
 * here with node:crypto (HMAC-SHA256 over the four JSON frames, as the
 * protocol specifies), so tests can send malformed, replayed or hostile
 * messages and then check that the kernel still answers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as zmq from "zeromq";
import { repoRoot, tempDir } from "../helpers.js";
import { freePort, waitUntil } from "../kernel/client.js";

export interface Reply {
  header: Record<string, any>;
  parent_header: Record<string, any>;
  content: Record<string, any>;
}


export class RawKernel {
  readonly session = randomUUID();
  stderr = "";
  readonly shellReplies: Reply[] = [];
  readonly controlReplies: Reply[] = [];
  readonly iopub: Reply[] = [];
  private shell = new zmq.Dealer({ routingId: `shell-${randomUUID()}` });
  private control = new zmq.Dealer({ routingId: `control-${randomUUID()}` });
  private sub = new zmq.Subscriber();
  private waiters: Array<() => void> = [];
  private hbPort = 0;

  private constructor(
    readonly proc: ChildProcess,
    readonly key: string,
    readonly cwd: string,
  ) {}

  static async start(cwd?: string): Promise<RawKernel> {
    const dir = tempDir("mergelab-hostile-kernel-");
    const [shell, control, stdin, iopub, hb] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    const key = randomUUID();
    const conn = { transport: "tcp", ip: "127.0.0.1", shell_port: shell, control_port: control, stdin_port: stdin, iopub_port: iopub, hb_port: hb, key, signature_scheme: "hmac-sha256", kernel_name: "mergelab" };
    const file = path.join(dir, "kernel.json");
    fs.writeFileSync(file, JSON.stringify(conn));
    const proc = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), "kernel", "start", "--connection-file", file], { cwd: cwd ?? dir, stdio: ["ignore", "pipe", "pipe"] });
    const k = new RawKernel(proc, key, cwd ?? dir);
    k.hbPort = hb;
    proc.stderr!.on("data", (d) => (k.stderr += String(d)));
    proc.stdout!.on("data", (d) => (k.stderr += String(d)));
    k.shell.connect(`tcp://127.0.0.1:${shell}`);
    k.control.connect(`tcp://127.0.0.1:${control}`);
    k.sub.connect(`tcp://127.0.0.1:${iopub}`);
    k.sub.subscribe();
    void k.pump(k.shell, k.shellReplies);
    void k.pump(k.control, k.controlReplies);
    void k.pump(k.sub, k.iopub);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await k.request("shell", "kernel_info_request", {}, 1000);
        return k;
      } catch {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`kernel did not start:\n${k.stderr}`);
      }
    }
  }

  sign(parts: Array<string | Buffer>): string {
    const h = createHmac("sha256", this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private async pump(sock: zmq.Dealer | zmq.Subscriber, into: Reply[]): Promise<void> {
    try {
      for await (const raw of sock) {
        const f = raw.map(String);
        const at = f.indexOf("<IDS|MSG>");
        try {
          into.push({ header: JSON.parse(f[at + 2]!), parent_header: JSON.parse(f[at + 3]!), content: JSON.parse(f[at + 5]!) });
        } catch {
          /* not ours to judge here */
        }
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      /* closed */
    }
  }

  header(msgType: string): Record<string, string> {
    return { msg_id: randomUUID(), session: this.session, username: "test", date: new Date().toISOString(), msg_type: msgType, version: "5.3" };
  }

  /** Send frames after the delimiter as given: [signature, header, parent, metadata, content, …]; `sign` fills the signature. */
  async sendRaw(channel: "shell" | "control", frames: Array<string | Buffer>, opts: { sign?: boolean } = {}): Promise<Array<string | Buffer>> {
    const out = opts.sign ? [this.sign(frames.slice(0, 4)), ...frames] : frames;
    await (channel === "shell" ? this.shell : this.control).send(["<IDS|MSG>", ...out] as zmq.MessageLike[]);
    return out;
  }

  /** A well-formed signed request; returns its msg_id and the exact frames sent (for replays). */
  async send(channel: "shell" | "control", msgType: string, content: object): Promise<{ id: string; frames: Array<string | Buffer> }> {
    const header = this.header(msgType);
    const frames = await this.sendRaw(channel, [JSON.stringify(header), "{}", "{}", JSON.stringify(content)], { sign: true });
    return { id: header.msg_id!, frames };
  }

  waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    return waitUntil(pred, timeoutMs, this.waiters, 100);
  }

  async reply(channel: "shell" | "control", msgId: string, timeoutMs = 30_000): Promise<Reply> {
    const box = channel === "shell" ? this.shellReplies : this.controlReplies;
    await this.waitFor(() => box.some((m) => m.parent_header?.msg_id === msgId), timeoutMs);
    return box.find((m) => m.parent_header?.msg_id === msgId)!;
  }

  async request(channel: "shell" | "control", msgType: string, content: object, timeoutMs = 30_000): Promise<Reply> {
    const { id } = await this.send(channel, msgType, content);
    return this.reply(channel, id, timeoutMs);
  }

  execute(code: string, timeoutMs = 60_000): Promise<Reply> {
    return this.request("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false }, timeoutMs);
  }

  /** Text written to stdout by the cell whose request id is `msgId`. */
  stdoutOf(msgId: string): string {
    return this.iopub
      .filter((m) => m.parent_header?.msg_id === msgId && m.header.msg_type === "stream" && m.content.name === "stdout")
      .map((m) => String(m.content.text))
      .join("");
  }

  /** One heartbeat round trip; resolves with the time it took, rejects after `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<number> {
    const hb = new zmq.Request({ receiveTimeout: timeoutMs, sendTimeout: timeoutMs, linger: 0 });
    hb.connect(`tcp://127.0.0.1:${this.hbPort}`);
    const t0 = Date.now();
    try {
      await hb.send("ping");
      const [echo] = await hb.receive();
      if (String(echo) !== "ping") throw new Error(`heartbeat echoed ${String(echo)}`);
      return Date.now() - t0;
    } finally {
      hb.close();
    }
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async shutdown(): Promise<void> {
    if (this.alive()) {
      const { id } = await this.send("control", "shutdown_request", { restart: false });
      await this.reply("control", id, 10_000).catch(() => undefined);
      await new Promise<void>((r) => {
        const t = setTimeout(() => (this.proc.kill("SIGKILL"), r()), 10_000);
        this.proc.once("exit", () => (clearTimeout(t), r()));
        if (!this.alive()) (clearTimeout(t), r());
      });
    }
    for (const s of [this.shell, this.control, this.sub]) s.close();
  }
}
