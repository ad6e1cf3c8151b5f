/**
 * Step learning-rate schedules: lr = base × gamma^(number of milestones reached), applied to
 * every parameter group with its `lrMult` (ECN: ×0.1 at epoch 40, new layers at 10× the backbone).
 *
 * @module
 */
import type { SGD } from "./sgd.ts";

/** Options of {@link StepSchedule}. */
export interface StepScheduleOptions {
  /** Learning rate before the first milestone. */
  baseLr: number;
  /** Factor applied at each milestone (default 0.1). */
  gamma?: number;
  /** Epochs (0-indexed) at which the rate is multiplied by gamma, e.g. [40]. */
  milestones?: number[];
  /** Alternatively, multiply every `stepSize` epochs (ECN's `lr * 0.1 ** (epoch // 40)`). */
  stepSize?: number;
}

/** A step schedule over epochs. */
export class StepSchedule {
  /** Learning rate before the first milestone. */
  readonly baseLr: number;
  /** Factor per milestone. */
  readonly gamma: number;
  /** Sorted milestones (empty when `stepSize` is used). */
  readonly milestones: readonly number[];
  /** Period of the decay, or 0 when milestones are used. */
  readonly stepSize: number;

  /** Creates the schedule; give either `milestones` or `stepSize`. */
  constructor(opts: StepScheduleOptions) {
    if (opts.milestones !== undefined && opts.stepSize !== undefined) {
      throw new Error("StepSchedule: give either milestones or stepSize, not both");
    }
    if (opts.stepSize !== undefined && !(Number.isInteger(opts.stepSize) && opts.stepSize > 0)) {
      throw new Error(`StepSchedule: stepSize must be a positive integer, got ${opts.stepSize}`);
    }
    if (!(opts.baseLr >= 0)) {
      throw new Error(`StepSchedule: baseLr must be >= 0, got ${opts.baseLr}`);
    }
    this.baseLr = opts.baseLr;
    this.gamma = opts.gamma ?? 0.1;
    this.milestones = [...(opts.milestones ?? [])].sort((a, b) => a - b);
    this.stepSize = opts.stepSize ?? 0;
  }

  /** The rate for `epoch` (0-indexed), before group multipliers. */
  lrAt(epoch: number): number {
    const k = this.stepSize > 0
      ? Math.floor(epoch / this.stepSize)
      : this.milestones.filter((m) => epoch >= m).length;
    return this.baseLr * this.gamma ** k;
  }

  /** Sets every group's lr to `lrAt(epoch) × lrMult`; returns the base rate used. */
  apply(optimizer: SGD, epoch: number): number {
    const lr = this.lrAt(epoch);
    for (const g of optimizer.groups) g.lr = lr * g.lrMult;
    return lr;
  }
}
