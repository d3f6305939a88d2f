import { describe, expect, it } from "vitest";
import { decode, encode, reply, Signer, WireError, type Message } from "../../kernel/protocol.js";
import { History } from "../../kernel/history.js";

const frames = (...parts: string[]) => parts.map((p) => Buffer.from(p));

describe("wire protocol", () => {
  const signer = new Signer("secret-key");
  const parts = ['{"msg_id":"1"}', "{}", "{}", '{"code":"1 + 2"}'];
  // HMAC-SHA256 over header, parent, metadata, content, computed by Python's hmac module.
  const pythonSignature = "ae67d910dd4776989d55378a29d542236e0b9d26e23b6ef5d5cb87233b59e019";

  it("signs like jupyter_client (HMAC-SHA256 of the four JSON frames)", () => {
    expect(signer.sign(parts)).toBe(pythonSignature);
    expect(new Signer("").sign(parts)).toBe("");
  });

  it("decodes a signed message with routing identities and buffers", () => {
    const msg = decode(frames("client-id", "<IDS|MSG>", pythonSignature, ...parts, "raw-buffer"), signer);
    expect(msg.identities.map(String)).toEqual(["client-id"]);
    expect(msg.header).toEqual({ msg_id: "1" });
    expect(msg.content).toEqual({ code: "1 + 2" });
    expect(msg.buffers.map(String)).toEqual(["raw-buffer"]);
  });

  it("rejects a bad signature, a tampered frame, a wrong key and malformed frames", () => {
    const bad = (f: Buffer[], s = signer) => () => decode(f, s);
    expect(bad(frames("<IDS|MSG>", "0".repeat(64), ...parts))).toThrow(new WireError("message signature does not match the connection key"));
    expect(bad(frames("<IDS|MSG>", pythonSignature, parts[0], "{}", "{}", '{"code":"rm -rf"}'))).toThrow(/signature/);
    expect(bad(frames("<IDS|MSG>", pythonSignature, ...parts), new Signer("other-key"))).toThrow(/signature/);
    expect(bad(frames("<IDS|MSG>", pythonSignature, parts[0]))).toThrow(/missing frames/);
    expect(bad(frames("no delimiter", ...parts))).toThrow(/no delimiter/);
    const junk = ["{", "{}", "{}", "{}"];
    expect(bad(frames("<IDS|MSG>", signer.sign(junk), ...junk))).toThrow(/not JSON/);
  });

  it("encodes a reply parented to the request, routed back, and verifiable", () => {
    const req = decode(frames("client-id", "<IDS|MSG>", pythonSignature, ...parts), signer);
    const out = encode(reply(req as Message<unknown>, "execute_reply", { status: "ok" }, "kernel-session"), signer);
    const back = decode(out.map((f) => Buffer.from(f)), signer);
    expect(back.identities.map(String)).toEqual(["client-id"]);
    expect(back.parent_header).toEqual({ msg_id: "1" });
    expect(back.header).toMatchObject({ msg_type: "execute_reply", session: "kernel-session", version: "5.3" });
    expect(back.content).toEqual({ status: "ok" });
  });
});

describe("history", () => {
  const h = new History();
  h.add(1, "x = 1", null);
  h.add(2, "1 + 2", "3");
  h.add(3, "1 + 2", "3");
  h.add(4, "plot(t)", null);

  it("answers tail, range and search like IPython", () => {
    expect(h.query({ hist_access_type: "tail", n: 2 })).toEqual([[1, 3, "1 + 2"], [1, 4, "plot(t)"]]);
    expect(h.query({ hist_access_type: "tail", n: 1, output: true })).toEqual([[1, 4, ["plot(t)", null]]]);
    expect(h.query({ hist_access_type: "range", session: 1, start: 2, stop: 4 }).map((r) => r[1])).toEqual([2, 3]);
    expect(h.query({ hist_access_type: "range", session: 7, start: 1, stop: 9 })).toEqual([]);
    expect(h.query({ hist_access_type: "search", pattern: "1 + *" }).map((r) => r[1])).toEqual([2, 3]);
    expect(h.query({ hist_access_type: "search", pattern: "1 + *", unique: true }).map((r) => r[1])).toEqual([3]);
    expect(h.query({ hist_access_type: "search", pattern: "?lot(*)" }).map((r) => r[1])).toEqual([4]);
  });
});
