/**
 * `torch.optim.SGD` with parameter groups (momentum, dampening, Nesterov, weight decay), on the
 * fused native step. Momentum buffers live outside scopes and are freed by `dispose()`.
 *
 * @module
 */
import { keep, noGrad, sgdStep, Tensor, TorchError } from "../tensor/mod.ts";

/** One parameter group as given to the constructor. */
export interface ParamGroupInput {
  /** The parameters of this group. */
  params: Tensor[];
  /** Learning rate (defaults to the optimizer's). */
  lr?: number;
  /** Multiplier applied by learning-rate schedules (default 1): lr = base * schedule * lrMult. */
  lrMult?: number;
  /** Weight decay (defaults to the optimizer's). */
  weightDecay?: number;
}

/** One parameter group as the optimizer keeps it. */
export interface ParamGroup {
  /** The parameters of this group. */
  params: Tensor[];
  /** Current learning rate. */
  lr: number;
  /** Schedule multiplier of this group. */
  lrMult: number;
  /** Weight decay of this group. */
  weightDecay: number;
}

/** Defaults of {@link SGD}. */
export interface SGDOptions {
  /** Learning rate of groups that give none. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of momentum (default 0). */
  dampening?: number;
  /** L2 penalty of groups that give none (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
}

/** Saved optimizer state: per-group lr and momentum buffers by parameter order. */
export interface SGDState {
  /** Learning rate of each group. */
  lrs: number[];
  /** Momentum buffer of each parameter (groups concatenated), null where none exists yet. */
  buffers: Array<Tensor | null>;
}

/** Stochastic gradient descent, equal to `torch.optim.SGD`. */
export class SGD {
  /** The parameter groups. */
  readonly groups: ParamGroup[];
  /** Momentum factor. */
  readonly momentum: number;
  /** Dampening. */
  readonly dampening: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  readonly #buffers: Array<Array<Tensor | undefined>>;

  /** Creates the optimizer over parameter tensors or groups. */
  constructor(params: Tensor[] | ParamGroupInput[], opts: SGDOptions) {
    const momentum = opts.momentum ?? 0;
    const dampening = opts.dampening ?? 0;
    if (!(opts.lr >= 0)) throw new TorchError("SGD", `lr must be >= 0, got ${opts.lr}`);
    if (!(momentum >= 0)) throw new TorchError("SGD", `momentum must be >= 0, got ${momentum}`);
    if (opts.nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new TorchError("SGD", "Nesterov momentum needs momentum > 0 and dampening 0");
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = opts.nesterov ?? false;
    const inputs: ParamGroupInput[] = params.length > 0 && params[0] instanceof Tensor
      ? [{ params: params as Tensor[] }]
      : params as ParamGroupInput[];
    const seen = new Set<Tensor>();
    this.groups = inputs.map((g, i) => {
      for (const p of g.params) {
        if (seen.has(p)) {
          throw new TorchError("SGD", `a parameter appears twice (again in group ${i})`);
        }
        seen.add(p);
      }
      const lr = g.lr ?? opts.lr;
      if (!(lr >= 0)) throw new TorchError("SGD", `group ${i}: lr must be >= 0, got ${lr}`);
      return {
        params: [...g.params],
        lr,
        lrMult: g.lrMult ?? 1,
        weightDecay: g.weightDecay ?? opts.weightDecay ?? 0,
      };
    });
    this.#buffers = this.groups.map((g) => g.params.map(() => undefined));
  }

  /** Clears every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  /** One update of every parameter that has a gradient. Returns how many were updated. */
  step(): number {
    let n = 0;
    this.groups.forEach((g, i) => {
      const bufs = this.#buffers[i];
      n += sgdStep(g.params, bufs, {
        lr: g.lr,
        momentum: this.momentum,
        dampening: this.dampening,
        weightDecay: g.weightDecay,
        nesterov: this.nesterov,
      });
    });
    return n;
  }

  /** The state (the same buffer tensors, not copies; save them before the next step). */
  stateDict(): SGDState {
    return {
      lrs: this.groups.map((g) => g.lr),
      buffers: this.#buffers.flat().map((b) => b ?? null),
    };
  }

  /** Restores a state from `stateDict()` (buffers are copied; shapes must match). */
  loadStateDict(state: SGDState): void {
    const total = this.#buffers.reduce((a, b) => a + b.length, 0);
    if (state.lrs.length !== this.groups.length || state.buffers.length !== total) {
      throw new TorchError(
        "SGD.loadStateDict",
        `state has ${state.lrs.length} groups / ${state.buffers.length} buffers, the optimizer ` +
          `has ${this.groups.length} groups / ${total} parameters`,
      );
    }
    let k = 0;
    const next = this.groups.map((g) =>
      g.params.map((p) => {
        const src = state.buffers[k++];
        if (src === null) return undefined;
        if (src.shape.join(",") !== p.shape.join(",")) {
          throw new TorchError(
            "SGD.loadStateDict",
            `momentum buffer ${k - 1} has shape [${src.shape}], its parameter [${p.shape}]`,
          );
        }
        return keep(noGrad(() => src.to({ device: p.device, dtype: p.dtype, copy: true })));
      })
    );
    this.dispose();
    next.forEach((b, i) => (this.#buffers[i] = b));
    state.lrs.forEach((lr, i) => (this.groups[i].lr = lr));
  }

  /** Frees the momentum buffers (the optimizer restarts without momentum). */
  dispose(): void {
    for (const bufs of this.#buffers) {
      for (let i = 0; i < bufs.length; i++) {
        bufs[i]?.dispose();
        bufs[i] = undefined;
      }
    }
  }
}
