/**
 * A Jupyter kernel process: the five ZeroMQ channels of the messaging
 * protocol (shell, control, stdin, iopub, heartbeat) around a `Language`
 * that runs cells. The server owns what every kernel does the same way —
 * signatures, busy/idle status, execute_input, execution counts, errors,
 * stop_on_error aborts, interrupts (message or SIGINT), history, shutdown —
 * so the language side only runs code and answers completions.
 */
import * as zmq from "zeromq";
import type { MimeBundle } from "../core/values.js";
import { decode, encode, reply, ReplayGuard, Signer, WireError, PROTOCOL_VERSION, type ConnectionInfo, type Message } from "./protocol.js";
import { History, type HistoryRequest } from "./history.js";
import { withPlotlyOnce } from "../core/plotly.js";

/** Where a running cell sends its output (iopub, parented to the execute_request). */
export interface CellOutput {
  stream(name: "stdout" | "stderr", text: string): void;
  /** display_data, or update_display_data when `update` (needs `displayId`). */
  display(bundle: MimeBundle, opts?: { displayId?: string; update?: boolean }): void;
  clearOutput(wait?: boolean): void;
}

/** The `error` message content: evalue carries the cell's line:col, traceback plain lines. */
export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type ExecuteOutcome = { status: "ok"; result?: MimeBundle } | ({ status: "error" } & ErrorContent);

export interface CompleteReply {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata?: Record<string, unknown>;
}

export interface Language {
  kernelInfo(): {
    implementation: string;
    implementation_version: string;
    language_info: Record<string, unknown>;
    banner: string;
    help_links?: Array<{ text: string; url: string }>;
  };
  execute(code: string, executionCount: number, out: CellOutput, signal: AbortSignal): Promise<ExecuteOutcome>;
  complete(code: string, cursorPos: number): CompleteReply;
  inspect(code: string, cursorPos: number, detailLevel: number): { found: boolean; data: MimeBundle };
  isComplete(code: string): { status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string };
}

type Channel = "shell" | "control";

export class KernelServer {
  private readonly signer: Signer;
  private readonly session = crypto.randomUUID();
  private readonly iopub = new zmq.Publisher();
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly heartbeat = new zmq.Reply();
  private readonly sendQueues = new Map<zmq.Socket, Promise<void>>();
  private shellQueue: Promise<void> = Promise.resolve();
  /** Shell requests are numbered as they arrive; those numbered below `abortBelow` are aborted (stop_on_error). */
  private received = 0;
  private abortBelow = 0;
  private executionCount = 0;
  private running: AbortController | undefined;
  private readonly history = new History();
  private readonly replays = new ReplayGuard();
  private stopped = false;
  private resolveStopped!: () => void;
  /** Resolves when the kernel has shut down. */
  readonly done = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(
    private readonly conn: ConnectionInfo,
    private readonly language: Language,
    private readonly log: (line: string) => void = (line) => void writeStderr(`[mergelab kernel] ${line}\n`),
  ) {
    this.signer = new Signer(conn.key, conn.signature_scheme);
  }

  async start(): Promise<void> {
    const url = (port: number) => `${this.conn.transport}://${this.conn.ip}:${port}`;
    await Promise.all([
      this.iopub.bind(url(this.conn.iopub_port)),
      this.shell.bind(url(this.conn.shell_port)),
      this.control.bind(url(this.conn.control_port)),
      this.stdin.bind(url(this.conn.stdin_port)),
      this.heartbeat.bind(url(this.conn.hb_port)),
    ]);
    void this.listen(this.shell, "shell");
    void this.listen(this.control, "control");
    void this.echoHeartbeat();
    void this.drain(this.stdin); // input_request is not supported (allow_stdin is ignored)
  }

  /** Abort the running cell (interrupt_request or SIGINT). */
  interrupt(): void {
    this.running?.abort();
  }

  private async listen(sock: zmq.Router, channel: Channel): Promise<void> {
    try {
      for await (const frames of sock) {
        let msg: Message;
        try {
          msg = decode(frames, this.signer);
          const at = frames.findIndex((f) => f.toString("utf8") === "<IDS|MSG>");
          if (!this.replays.fresh(frames[at + 1]!.toString("utf8"))) throw new WireError("replayed message (its signature was seen before): ignored");
        } catch (e) {
          if (e instanceof WireError) {
            this.log(`rejected a ${channel} message: ${e.message}`);
            continue;
          }
          throw e;
        }
        const received = ++this.received;
        if (channel === "control") void this.handle(sock, msg, received);
        // Shell requests run one at a time, in order; control requests overtake them.
        else this.shellQueue = this.shellQueue.then(() => this.handle(sock, msg, received));
      }
    } catch (e) {
      if (!this.stopped) this.log(`${channel} channel closed: ${String(e)}`);
    }
  }

  private async echoHeartbeat(): Promise<void> {
    try {
      for await (const frames of this.heartbeat) await this.heartbeat.send(frames);
    } catch {
      /* closed at shutdown */
    }
  }

  private async drain(sock: zmq.Router): Promise<void> {
    try {
      for await (const _ of sock) void _;
    } catch {
      /* closed at shutdown */
    }
  }

  /** Sends on one socket go out in order, one at a time (zeromq allows one pending send per socket). */
  private send(sock: zmq.Socket & zmq.Writable, msg: Message<unknown>): Promise<void> {
    const frames = encode(msg, this.signer);
    const next = (this.sendQueues.get(sock) ?? Promise.resolve()).then(
      () => sock.send(frames as zmq.MessageLike[]),
    ).catch((e) => {
      if (!this.stopped) this.log(`send failed: ${String(e)}`);
    });
    this.sendQueues.set(sock, next);
    return next;
  }

  private publish(parent: Message, msgType: string, content: unknown): void {
    void this.send(this.iopub, reply(parent, msgType, content, this.session, [Buffer.from(`kernel.${msgType}`)]));
  }

  private respond(sock: zmq.Router, parent: Message, msgType: string, content: unknown): void {
    void this.send(sock, reply(parent, msgType, content, this.session));
  }

  private async handle(sock: zmq.Router, msg: Message, received: number): Promise<void> {
    this.publish(msg, "status", { execution_state: "busy" });
    try {
      await this.dispatch(sock, msg, received);
    } catch (e) {
      this.log(`internal error handling ${msg.header.msg_type}: ${e instanceof Error ? e.stack : String(e)}`);
    } finally {
      this.publish(msg, "status", { execution_state: "idle" });
    }
    if (msg.header.msg_type === "shutdown_request") await this.stop();
  }

  private async dispatch(sock: zmq.Router, msg: Message, received: number): Promise<void> {
    const c = msg.content as Record<string, any>;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        return this.respond(sock, msg, "kernel_info_reply", {
          status: "ok",
          protocol_version: PROTOCOL_VERSION,
          ...this.language.kernelInfo(),
        });
      case "execute_request":
        return this.execute(sock, msg, received);
      case "complete_request":
        return this.respond(sock, msg, "complete_reply", {
          status: "ok",
          metadata: {},
          ...this.language.complete(String(c.code ?? ""), Number(c.cursor_pos ?? String(c.code ?? "").length)),
        });
      case "inspect_request": {
        const r = this.language.inspect(String(c.code ?? ""), Number(c.cursor_pos ?? 0), Number(c.detail_level ?? 0));
        return this.respond(sock, msg, "inspect_reply", { status: "ok", found: r.found, data: r.data, metadata: {} });
      }
      case "is_complete_request":
        return this.respond(sock, msg, "is_complete_reply", this.language.isComplete(String(c.code ?? "")));
      case "history_request":
        return this.respond(sock, msg, "history_reply", { status: "ok", history: this.history.query(c as HistoryRequest) });
      case "comm_info_request":
        return this.respond(sock, msg, "comm_info_reply", { status: "ok", comms: {} });
      case "interrupt_request":
        this.interrupt();
        return this.respond(sock, msg, "interrupt_reply", { status: "ok" });
      case "shutdown_request": {
        const content = { status: "ok", restart: Boolean(c.restart) };
        this.respond(sock, msg, "shutdown_reply", content);
        return this.publish(msg, "shutdown_reply", content);
      }
      default:
        this.log(`ignored unsupported request '${msg.header.msg_type}'`);
    }
  }

  private async execute(sock: zmq.Router, msg: Message, received: number): Promise<void> {
    const c = msg.content as { code?: string; silent?: boolean; store_history?: boolean; stop_on_error?: boolean };
    const code = String(c.code ?? "");
    const silent = Boolean(c.silent);
    const storeHistory = !silent && c.store_history !== false;
    if (received < this.abortBelow) {
      return this.respond(sock, msg, "execute_reply", { status: "aborted", execution_count: this.executionCount });
    }
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    if (!silent) this.publish(msg, "execute_input", { code, execution_count: count });

    const out = this.cellOutput(msg);
    this.running = new AbortController();
    const restore = captureProcessOutput(out);
    let outcome: ExecuteOutcome;
    try {
      outcome = await this.language.execute(code, count, out, this.running.signal);
    } finally {
      restore();
      this.running = undefined;
    }
    if (outcome.status === "ok") {
      if (outcome.result && !silent) {
        this.publish(msg, "execute_result", { execution_count: count, data: withPlotlyOnce(outcome.result), metadata: {} });
      }
      this.respond(sock, msg, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: {} });
    } else {
      const error = { ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback };
      this.publish(msg, "error", error);
      this.respond(sock, msg, "execute_reply", { status: "error", execution_count: count, ...error });
      if (c.stop_on_error !== false) this.abortBelow = this.received + 1;
    }
    if (storeHistory) this.history.add(count, code, outcome.status === "ok" ? plainText(outcome.result) : null);
  }

  private cellOutput(parent: Message): CellOutput {
    return {
      stream: (name, text) => this.publish(parent, "stream", { name, text }),
      display: (bundle, opts = {}) => {
        const transient = opts.displayId ? { display_id: opts.displayId } : {};
        const type = opts.update && opts.displayId ? "update_display_data" : "display_data";
        this.publish(parent, type, { data: withPlotlyOnce(bundle), metadata: {}, transient });
      },
      clearOutput: (wait = false) => this.publish(parent, "clear_output", { wait }),
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running?.abort();
    await Promise.all([...this.sendQueues.values()]);
    for (const s of [this.shell, this.control, this.stdin, this.heartbeat, this.iopub]) {
      s.linger = 200;
      s.close();
    }
    this.resolveStopped();
  }
}

const writeStderr = process.stderr.write.bind(process.stderr);

/**
 * While a cell runs, anything written to the process's stdout/stderr (a
 * library's warning, a console.log in user TypeScript) goes to the cell, as
 * IPython does, instead of the terminal that started Jupyter.
 */
function captureProcessOutput(out: CellOutput): () => void {
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write };
  const decoder = new TextDecoder();
  const capture = (name: "stdout" | "stderr") =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      out.stream(name, typeof chunk === "string" ? chunk : decoder.decode(chunk));
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture("stdout");
  process.stderr.write = capture("stderr");
  return () => {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
  };
}

function plainText(bundle: MimeBundle | undefined): string | null {
  const t = bundle?.["text/plain"];
  return typeof t === "string" ? t : null;
}
