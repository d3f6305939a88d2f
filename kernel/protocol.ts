/**
 * The Jupyter messaging protocol v5.3 on the wire: a message is a list of
 * ZeroMQ frames
 *
 *   [identities…, "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers…]
 *
 * where signature = hex(HMAC-SHA256(key, header ‖ parent_header ‖ metadata ‖ content))
 * (https://jupyter-client.readthedocs.io/en/stable/messaging.html#the-wire-protocol).
 * An empty key disables signing. Messages whose signature does not verify are
 * rejected (the caller drops them), so only a client that read the connection
 * file can drive the kernel.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  identities: Buffer[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** Why a frame list was not accepted as a message. */
export class WireError extends Error {}

export class Signer {
  constructor(
    private readonly key: string,
    scheme = "hmac-sha256",
  ) {
    if (key && scheme !== "hmac-sha256") throw new WireError(`unsupported signature scheme '${scheme}'`);
  }

  sign(parts: Array<Buffer | string>): string {
    if (!this.key) return "";
    const hmac = createHmac("sha256", this.key);
    for (const p of parts) hmac.update(p);
    return hmac.digest("hex");
  }

  verify(signature: string, parts: Buffer[]): boolean {
    if (!this.key) return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
}

/** Parse and verify a received frame list; throws WireError on a malformed or badly signed message. */
export function decode(frames: Buffer[], signer: Signer): Message {
  const at = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("utf8") === DELIMITER);
  if (at < 0 || frames.length < at + 6) throw new WireError("malformed message: no delimiter or missing frames");
  const [signature, header, parent, metadata, content] = frames.slice(at + 1, at + 6);
  if (!signer.verify(signature.toString("utf8"), [header, parent, metadata, content])) {
    throw new WireError("message signature does not match the connection key");
  }
  let msg: Message;
  try {
    msg = {
      identities: frames.slice(0, at),
      header: JSON.parse(header.toString("utf8")),
      parent_header: JSON.parse(parent.toString("utf8")),
      metadata: JSON.parse(metadata.toString("utf8")),
      content: JSON.parse(content.toString("utf8")),
      buffers: frames.slice(at + 6),
    };
  } catch {
    throw new WireError("malformed message: a frame is not JSON");
  }
  // a signed message is still only data: its shape is checked before anything reads it
  const isObject = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x);
  const h = msg.header as unknown as Record<string, unknown>;
  if (!isObject(h) || !["string", "undefined"].includes(typeof h.msg_type) || !["string", "undefined"].includes(typeof h.msg_id)) {
    throw new WireError("malformed message: the header is not an object with string msg_id and msg_type");
  }
  if (!isObject(msg.parent_header) || !isObject(msg.metadata) || !isObject(msg.content)) {
    throw new WireError("malformed message: parent_header, metadata and content must be objects");
  }
  return msg;
}

/**
 * Signatures seen recently: a captured, validly signed message sent again
 * (a replay) is rejected, as ipykernel does. Keeps the last `size` signatures.
 */
export class ReplayGuard {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;
  constructor(private readonly size = 10_000) {}

  /** true the first time a signature is offered, false for a repeat. Empty signatures (no key) are not tracked. */
  fresh(signature: string): boolean {
    if (!signature) return true;
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    this.order.push(signature);
    if (this.order.length - this.head > this.size) this.seen.delete(this.order[this.head++]!);
    if (this.head > this.size) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
    return true;
  }
}

/** Serialize and sign a message into frames. */
export function encode(msg: Message<unknown>, signer: Signer): Array<Buffer | string> {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => JSON.stringify(p));
  return [...msg.identities, DELIMITER, signer.sign(parts), ...parts, ...msg.buffers];
}

/** A new message answering or caused by `parent` (same session, routed to the same identities). */
export function reply<C>(parent: Message<unknown>, msgType: string, content: C, session: string, identities = parent.identities): Message<C> {
  return {
    identities,
    header: {
      msg_id: randomUUID(),
      session,
      username: "mergelab",
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    },
    parent_header: parent.header,
    metadata: {},
    content,
    buffers: [],
  };
}

/** The connection file Jupyter writes for a kernel. */
export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  control_port: number;
  stdin_port: number;
  iopub_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
}
