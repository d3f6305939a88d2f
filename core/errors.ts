/**
 * The one error type users see. Everything a user can get wrong (a script, an
 * argument, a checkpoint) is reported as a MergelabError: the CLI and the
 * notebook kernel print `message` (with its location) and never a stack trace.
 * Anything else that escapes is a bug in mergelab.
 */
export interface SourceLocation {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
  length?: number; // characters to underline; 1 when absent
}

export interface ErrorDetails {
  /** Where in a script the error is; filled in by the interpreter when absent. */
  loc?: SourceLocation;
  /** Checkpoint file the error is about. */
  file?: string;
  /** Tensor the error is about. */
  tensor?: string;
  /** Name of the argument at fault, so the interpreter can point at it. */
  param?: string;
  /** Index of the positional argument at fault (when no name). */
  argIndex?: number;
}

export class MergelabError extends Error {
  readonly details: ErrorDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = "MergelabError";
    this.details = details;
  }
  get loc(): SourceLocation | undefined {
    return this.details.loc;
  }
}

/** Raised when a run is interrupted (Ctrl-C, notebook interrupt, AbortSignal). */
export class InterruptedError extends MergelabError {
  constructor(message = "interrupted") {
    super(message);
    this.name = "InterruptedError";
  }
}

export function isMergelabError(e: unknown): e is MergelabError {
  return e instanceof MergelabError;
}
