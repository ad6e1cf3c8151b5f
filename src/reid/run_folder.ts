/**
 * The folder of a training run: `config.json` (the settings), `log.jsonl` (one line per step,
 * epoch and evaluation), `loss.svg` (the step losses), `checkpoint.safetensors` (model, optimizer,
 * exemplar memory and the position in the data streams, written atomically every epoch) and
 * `result.json` (the final evaluation).
 *
 * @module
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Evaluation } from "../eval/evaluate.ts";
import { loadCheckpoint, saveCheckpoint } from "../nn/checkpoint.ts";
import type { SGD } from "../optim/sgd.ts";
import { tensor } from "../tensor/mod.ts";
import { writeLossPlot } from "../util/plot.ts";
import type { TrainConfig } from "./config.ts";
import type { EcnNet } from "./ecn_net.ts";
import type { ExemplarMemory } from "./memory.ts";

/** The checkpoint's file name in a run folder. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";
/** The settings' file name in a run folder. */
export const CONFIG_FILE = "config.json";
/** The log's file name in a run folder (one JSON record per line). */
export const LOG_FILE = "log.jsonl";
/** The final evaluation's file name in a run folder. */
export const RESULT_FILE = "result.json";

/** One line of the run's log.jsonl. */
export interface LogRecord {
  /** What the line holds: one step, an epoch's means, or an evaluation. */
  kind: "step" | "epoch" | "eval";
  /** 0-based epoch. */
  epoch: number;
  /** 1-based step within the epoch (step lines). */
  step?: number;
  /** Learning rate of the new layers in this epoch. */
  lr?: number;
  /** Total loss (epoch lines: mean over the epoch). */
  loss?: number;
  /** Source cross-entropy (epoch lines: mean over the epoch). */
  source?: number;
  /** Target loss (epoch lines: mean over the epoch); null when source-only. */
  target?: number | null;
  /** Source-batch accuracy (epoch lines: mean over the epoch). */
  accuracy?: number;
  /** Source plus target images per second since the epoch began. */
  imagesPerSecond?: number;
  /** Figures of an evaluation (eval lines), without the per-query data. */
  eval?: Omit<Evaluation, "top" | "perQuery">;
  /** Wall-clock time of the record, ISO 8601. */
  time: string;
}

/** The checkpoint file of a run folder, or `path` itself when it is not a folder. */
export function checkpointFileOf(path: string): string {
  return existsSync(path) && statSync(path).isDirectory() ? join(path, CHECKPOINT_FILE) : path;
}

/** What a run's checkpoint holds besides the settings. */
export interface RunState {
  /** The network. */
  model: EcnNet;
  /** The optimizer (momentum buffers, learning rates). */
  optimizer: SGD;
  /** The target's exemplar memory; null when source-only. */
  memory: ExemplarMemory | null;
}

/** Where a run stands, as its checkpoint records it. */
export interface RunPosition {
  /** Finished epochs. */
  epochsDone: number;
  /** Target batches consumed so far. */
  targetBatchesSeen: number;
  /** The number of processes of the run that wrote it. */
  worldSize: number;
}

/**
 * Restores `state` in place from a run's checkpoint (a run folder or the file); returns the file
 * read and where the run stood. Refuses a checkpoint whose memory does not fit `state.memory`.
 */
export async function restoreRun(
  path: string,
  state: RunState,
): Promise<{ file: string; position: RunPosition }> {
  const file = checkpointFileOf(path);
  const ck = await loadCheckpoint(file, { model: state.model, optimizer: state.optimizer });
  try {
    const mem = ck.extra.get("memory");
    if (state.memory) {
      if (!mem) {
        throw new Error(`${file}: the checkpoint has no exemplar memory (a source-only run?)`);
      }
      try {
        state.memory.load(mem);
      } catch (e) {
        throw new Error(`${file}: refusing to resume: ${(e as Error).message}`);
      }
    }
    const saved = ck.extra.get("state");
    const s = saved ? saved.toNumbers() : [ck.epoch, 0];
    return {
      file,
      position: { epochsDone: ck.epoch, targetBatchesSeen: s[1], worldSize: s[2] ?? 1 },
    };
  } finally {
    for (const t of ck.extra.values()) t.dispose();
  }
}

/** A run folder: its files, and the log records written so far by this process. */
export class RunFolder {
  /** The folder. */
  readonly dir: string;
  readonly #history: LogRecord[] = [];

  /** The run folder at `dir` (created when first written). */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** The path of the run's checkpoint. */
  get checkpointPath(): string {
    return join(this.dir, CHECKPOINT_FILE);
  }

  /** Whether a checkpoint has been written. */
  hasCheckpoint(): boolean {
    return existsSync(this.checkpointPath);
  }

  /** Writes config.json. */
  writeConfig(config: TrainConfig): void {
    mkdirSync(this.dir, { recursive: true });
    Deno.writeTextFileSync(join(this.dir, CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
  }

  /** Appends one line to log.jsonl. */
  append(record: LogRecord): void {
    this.#history.push(record);
    mkdirSync(this.dir, { recursive: true });
    Deno.writeTextFileSync(join(this.dir, LOG_FILE), JSON.stringify(record) + "\n", {
      append: true,
    });
  }

  /** Draws the step losses logged by this process so far into loss.svg. */
  writeLossPlot(): void {
    writeLossPlot(join(this.dir, "loss.svg"), this.#history.filter((r) => r.kind === "step"));
  }

  /** Writes result.json: every figure of the final evaluation but the top matches. */
  writeResult(e: Evaluation): void {
    mkdirSync(this.dir, { recursive: true });
    Deno.writeTextFileSync(
      join(this.dir, RESULT_FILE),
      JSON.stringify({ ...e, top: undefined }, null, 2) + "\n",
    );
  }

  /** Saves the run's checkpoint atomically (the previous one stays until the rename). */
  async saveCheckpoint(
    state: RunState,
    position: RunPosition,
    config: TrainConfig,
  ): Promise<string> {
    mkdirSync(this.dir, { recursive: true });
    const path = this.checkpointPath;
    const numbers = tensor(
      new Float64Array([position.epochsDone, position.targetBatchesSeen, position.worldSize]),
    );
    try {
      await saveCheckpoint(path, {
        model: state.model,
        optimizer: state.optimizer,
        extra: state.memory ? { memory: state.memory.keys, state: numbers } : { state: numbers },
        epoch: position.epochsDone,
        config,
      });
    } finally {
      numbers.dispose();
    }
    return path;
  }
}
