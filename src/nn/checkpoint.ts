/**
 * Training-state checkpoints: the model's state dict, the optimizer's momentum buffers and
 * learning rates, extra tensors (e.g. the exemplar memory), the epoch, a JSON config and the
 * random-generator state, in ONE safetensors file written atomically (temporary file + rename).
 *
 * Tensor keys: `model.<state-dict key>`, `optim.<parameter index>`, `extra.<name>`, `rng`.
 * Metadata: `format` (= {@link CHECKPOINT_FORMAT}), `epoch`, `config` (JSON), `optimizer`
 * (JSON: learning rates per group and the number of parameters).
 *
 * @module
 */
import { keep, noGrad, rngState, setRngState, type Tensor } from "../tensor/mod.ts";
import type { SGD } from "../optim/sgd.ts";
import type { Module } from "./module.ts";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";
import { rawToTensor, tensorToRaw } from "./state_dict.ts";
import type { RawStateDict } from "./weights.ts";

/** The `format` metadata value of checkpoints this module writes. */
export const CHECKPOINT_FORMAT = "ecn-checkpoint/1";

/** What {@link saveCheckpoint} stores. */
export interface CheckpointContent {
  /** The network (all parameters and buffers). */
  model: Module;
  /** The optimizer, whose momentum buffers and learning rates are saved. */
  optimizer?: SGD;
  /** Further tensors by name, e.g. `{ memory }`. */
  extra?: Record<string, Tensor>;
  /** The number of finished epochs. */
  epoch: number;
  /** Any JSON-serializable settings. */
  config?: unknown;
  /** Save libtorch's CPU generator state (default true). */
  saveRng?: boolean;
}

/** What {@link loadCheckpoint} returns besides restoring the model and optimizer in place. */
export interface LoadedCheckpoint {
  /** The saved epoch. */
  epoch: number;
  /** The saved config (undefined when none was saved). */
  config: unknown;
  /** The extra tensors (CPU, kept out of scopes; the caller disposes them). */
  extra: Map<string, Tensor>;
  /** Whether a random-generator state was restored. */
  rngRestored: boolean;
}

/** Writes a checkpoint to `path` atomically. */
export async function saveCheckpoint(path: string, c: CheckpointContent): Promise<void> {
  if (!Number.isInteger(c.epoch) || c.epoch < 0) {
    throw new Error(`saveCheckpoint ${path}: epoch must be a non-negative integer, got ${c.epoch}`);
  }
  const tensors: RawStateDict = new Map();
  for (const [k, t] of c.model.stateDict()) tensors.set(`model.${k}`, tensorToRaw(t, k));
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    epoch: String(c.epoch),
  };
  if (c.config !== undefined) meta.config = JSON.stringify(c.config);
  if (c.optimizer) {
    const st = c.optimizer.stateDict();
    st.buffers.forEach((b, i) => {
      if (b) tensors.set(`optim.${i}`, tensorToRaw(b, `optimizer buffer ${i}`));
    });
    meta.optimizer = JSON.stringify({ lrs: st.lrs, params: st.buffers.length });
  }
  for (const [k, t] of Object.entries(c.extra ?? {})) tensors.set(`extra.${k}`, tensorToRaw(t, k));
  if (c.saveRng ?? true) {
    using s = rngState();
    tensors.set("rng", tensorToRaw(s, "rng"));
  }
  await writeSafetensors(path, tensors, meta);
}

/**
 * Reads a checkpoint: restores `model` (strictly: every key must match) and, when given,
 * `optimizer` and the random-generator state; returns the epoch, config and extra tensors.
 * A truncated, corrupt or foreign file throws an error naming `path`.
 */
export async function loadCheckpoint(
  path: string,
  target: { model: Module; optimizer?: SGD; restoreRng?: boolean },
): Promise<LoadedCheckpoint> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    throw new Error(
      `${path}: cannot read checkpoint (truncated or not a safetensors file): ` +
        (e as Error).message,
      { cause: e },
    );
  }
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${path}: not an ECN training checkpoint (metadata format is ` +
        `${JSON.stringify(meta.format ?? null)}, expected "${CHECKPOINT_FORMAT}"); ` +
        `use loadWeightsFile for plain weight files`,
    );
  }
  const fail = (msg: string): never => {
    throw new Error(`${path}: corrupt checkpoint: ${msg}`);
  };
  const epoch = Number(meta.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) fail(`bad epoch ${JSON.stringify(meta.epoch)}`);
  let config: unknown = undefined;
  try {
    if (meta.config !== undefined) config = JSON.parse(meta.config);
  } catch (e) {
    fail(`config is not JSON: ${(e as Error).message}`);
  }

  const modelSd: RawStateDict = new Map();
  const extraRaw: RawStateDict = new Map();
  const optimRaw: RawStateDict = new Map();
  for (const [k, t] of file.tensors) {
    if (k.startsWith("model.")) modelSd.set(k.slice(6), t);
    else if (k.startsWith("extra.")) extraRaw.set(k.slice(6), t);
    else if (k.startsWith("optim.")) optimRaw.set(k.slice(6), t);
    else if (k !== "rng") fail(`unknown tensor ${JSON.stringify(k)}`);
  }
  try {
    target.model.loadStateDict(modelSd, { strict: true });
  } catch (e) {
    throw new Error(`${path}: the model does not match the checkpoint: ${(e as Error).message}`, {
      cause: e,
    });
  }

  if (target.optimizer) {
    if (meta.optimizer === undefined) fail("it holds no optimizer state");
    const info = JSON.parse(meta.optimizer) as { lrs: number[]; params: number };
    const buffers: Array<Tensor | null> = [];
    try {
      for (let i = 0; i < info.params; i++) {
        const raw = optimRaw.get(String(i));
        buffers.push(raw ? rawToTensor(raw, `optim.${i}`) : null);
      }
      target.optimizer.loadStateDict({ lrs: info.lrs, buffers });
    } catch (e) {
      throw new Error(`${path}: the optimizer does not match: ${(e as Error).message}`, {
        cause: e,
      });
    } finally {
      for (const b of buffers) b?.dispose();
    }
  }

  let rngRestored = false;
  const rng = file.tensors.get("rng");
  if (rng && (target.restoreRng ?? true)) {
    using s = rawToTensor(rng, "rng");
    setRngState(s);
    rngRestored = true;
  }

  const extra = new Map<string, Tensor>();
  noGrad(() => {
    for (const [k, raw] of extraRaw) extra.set(k, keep(rawToTensor(raw, `extra.${k}`)));
  });
  return { epoch, config, extra, rngRestored };
}
