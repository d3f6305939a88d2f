import { MergelabError } from "../core/errors.js";

/** `FILE:LINE:COL: error: message` when the error has a script location, else `mergelab: error: message`. */
export function formatError(e: MergelabError): string {
  const loc = e.details.loc;
  const message = escapeControl(e.message, true);
  if (loc) return `${escapeControl(loc.file)}:${loc.line}:${loc.col}: error: ${message}`;
  return `mergelab: error: ${message}`;
}

/**
 * Text from a file (tensor names, metadata, paths) made safe for a terminal:
 * control characters — ESC of ANSI/OSC sequences, BEL, CR, backspace, C1 —
 * are shown as \xNN / \uNNNN instead of being sent raw. `keepNewlines` keeps
 * \n and \t (multi-line messages).
 */
export function escapeControl(text: string, keepNewlines = false): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (keepNewlines && (c === "\n" || c === "\t")) return c;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
