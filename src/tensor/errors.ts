/**
 * The error every failed tensor operation raises.
 *
 * @module
 */
import { lastError } from "../ffi/library.ts";

/** A libtorch (or argument) error, carrying the operation's name and libtorch's message. */
export class TorchError extends Error {
  /** The operation that failed, e.g. "mm". */
  readonly op: string;
  /** The message as libtorch (or the shim) gave it. */
  readonly detail: string;

  /** Makes an error for `op` with libtorch's message `detail`. */
  constructor(op: string, detail: string) {
    super(`${op}: ${firstLines(detail)}`);
    this.name = "TorchError";
    this.op = op;
    this.detail = detail;
  }
}

// libtorch messages can carry long C++ traces; the first lines say what was wrong.
function firstLines(s: string): string {
  const lines = s.split("\n").filter((l) => l.trim() !== "");
  return lines.slice(0, 4).join("\n");
}

/** Throws the shim's last error as a TorchError for `op`. */
export function raise(op: string): never {
  throw new TorchError(op, lastError() || "unknown error");
}
