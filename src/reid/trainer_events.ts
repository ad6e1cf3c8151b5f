/**
 * What an ECN training run reports as it goes ({@link TrainerEvent}), and the options of
 * `Trainer.create`. The trainer prints nothing; the train command draws these events.
 *
 * @module
 */
import type { ReidDataset } from "../data/datasets.ts";
import type { ProcessGroup } from "../dist/group.ts";
import type { Evaluation } from "../eval/evaluate.ts";
import type { LogRecord } from "./run_folder.ts";
import type { StepLosses } from "./step.ts";

/**
 * What a run reports as it goes, in order: the data sets, a resume, then per epoch its start,
 * every step, its end and checkpoint, and evaluations (preceded by feature extraction progress).
 * With several processes every rank reports its own steps; only rank 0 writes the run folder,
 * checkpoints and evaluates.
 */
export type TrainerEvent =
  | {
    /** A data set was read (its summaryTable() lists skipped and ignored files). */
    kind: "dataset";
    role: "source" | "target";
    dataset: ReidDataset;
  }
  | {
    /** The run continues from a checkpoint. */
    kind: "resumed";
    path: string;
    /** The next epoch to run (0-based). */
    epoch: number;
  }
  | {
    /** Resumed with another number of processes: the target stream restarts at its next pass. */
    kind: "worldSizeChanged";
    from: number;
    to: number;
  }
  | {
    /** An epoch begins. */
    kind: "epochStart";
    /** 0-based. */
    epoch: number;
    epochs: number;
    /** Steps this epoch will run. */
    steps: number;
  }
  | {
    /** One step is done (`record` is its log line; written to log.jsonl on rank 0). */
    kind: "step";
    record: LogRecord;
    losses: StepLosses;
  }
  | {
    /** An epoch is done (`record` holds its means). */
    kind: "epochEnd";
    record: LogRecord;
  }
  | {
    /** The checkpoint was written. */
    kind: "checkpoint";
    path: string;
    epochsDone: number;
  }
  | {
    /** Feature extraction for an evaluation: `done` of `total` images (0 first, `total` last). */
    kind: "features";
    done: number;
    total: number;
  }
  | {
    /** The target was evaluated after `epoch` (0-based). */
    kind: "evaluation";
    epoch: number;
    dataset: string;
    evaluation: Evaluation;
  };

/** Options of {@link Trainer.create}. */
export interface TrainerOptions {
  /** Continue the run of this folder or checkpoint exactly where it stopped. */
  resume?: string;
  /** Data parallel: this process's group; rank 0 writes the run folder and evaluates. */
  group?: ProcessGroup;
  /** Receives the run's {@link TrainerEvent}s (default: none; the trainer never prints). */
  onEvent?: (event: TrainerEvent) => void;
}
