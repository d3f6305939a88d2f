import { MergelabError } from "../core/errors.js";

/** `FILE:LINE:COL: error: message` when the error has a script location, else `mergelab: error: message`. */
export function formatError(e: MergelabError): string {
  const loc = e.details.loc;
  if (loc) return `${loc.file}:${loc.line}:${loc.col}: error: ${e.message}`;
  return `mergelab: error: ${e.message}`;
}
