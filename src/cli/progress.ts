/**
 * A terminal progress bar on stderr: epoch/step, ETA and named figures. On a terminal it redraws
 * one line; elsewhere (logs, CI) it prints a line every few seconds and at the end. The commands
 * draw it from the library's progress callbacks and events.
 *
 * @module
 */

const enc = new TextEncoder();

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60), sec = Math.floor(s % 60);
  return m >= 60
    ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`
    : `${m}:${String(sec).padStart(2, "0")}`;
}

/** One progress bar over `total` units of work. */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #t0 = performance.now();
  readonly #tty: boolean;
  #lastPrint = 0;
  #line = "";
  #printed = "";

  /** Starts a bar; `quiet` prints nothing (the commands pass `ECN_QUIET=1`, see env.ts). */
  constructor(label: string, total: number, opts: { quiet?: boolean } = {}) {
    this.#label = label;
    this.#total = Math.max(1, total);
    const quiet = opts.quiet ?? false;
    this.#tty = !quiet && Deno.stderr.isTerminal();
    if (quiet) this.#lastPrint = Infinity;
  }

  /** Sets the progress to `done` units with optional figures to show. */
  update(done: number, figures: Record<string, string> = {}): void {
    const elapsed = (performance.now() - this.#t0) / 1000;
    const frac = Math.min(1, done / this.#total);
    const eta = frac > 0 ? elapsed * (1 - frac) / frac : Infinity;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const figs = Object.entries(figures).map(([k, v]) => `${k} ${v}`).join("  ");
    this.#line = `${this.#label} [${bar}] ${done}/${this.#total} ${fmtTime(elapsed)}<${
      fmtTime(eta)
    } ${figs}`;
    const now = performance.now();
    if (this.#tty) {
      if (now - this.#lastPrint > 100) {
        Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${this.#line}`));
        this.#lastPrint = now;
      }
    } else if (now - this.#lastPrint > 5000) {
      console.error(this.#line);
      this.#printed = this.#line;
      this.#lastPrint = now;
    }
  }

  /** Ends the bar, leaving its last line. */
  done(): void {
    if (this.#lastPrint === Infinity) return;
    if (this.#tty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${this.#line}\n`));
    else if (this.#line && this.#line !== this.#printed) console.error(this.#line);
  }
}
