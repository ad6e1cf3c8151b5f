/**
 * Loading a trained ECN network back from a run's checkpoint (for evaluation and retrieval).
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CHECKPOINT_FORMAT, loadCheckpoint } from "../nn/checkpoint.ts";
import { readSafetensors } from "../nn/safetensors.ts";
import type { TrainConfig } from "./config.ts";
import { EcnNet } from "./ecn_net.ts";

/** A network restored from a checkpoint, with the settings it was trained with. */
export interface TrainedModel {
  /** The restored network, in eval mode. */
  model: EcnNet;
  /** The settings of the run that wrote the checkpoint. */
  config: TrainConfig;
  /** Finished epochs. */
  epoch: number;
  /** The checkpoint file read. */
  path: string;
}

/** Restores the network of a run folder or checkpoint file (eval mode). */
export async function loadTrainedModel(pathOrRun: string): Promise<TrainedModel> {
  const path = existsSync(pathOrRun) && statSync(pathOrRun).isDirectory()
    ? join(pathOrRun, "checkpoint.safetensors")
    : pathOrRun;
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT || !metadata.config) {
    throw new Error(
      `${path}: not an ECN training checkpoint with its config (metadata format ` +
        `${JSON.stringify(metadata.format ?? null)}); for ImageNet weight files use --weights`,
    );
  }
  const config = JSON.parse(metadata.config) as TrainConfig;
  const cls = tensors.get("model.classifier.weight");
  if (!cls || cls.shape.length !== 2) {
    throw new Error(`${path}: no model.classifier.weight tensor: not an ECN network checkpoint`);
  }
  const model = new EcnNet({
    arch: config.arch,
    numSourceIds: cls.shape[0],
    numFeatures: config.numFeatures,
    dropout: config.dropout,
    freezeUntil: config.freezeUntil ?? undefined,
    resnetStride: config.resnetStride ?? undefined,
  });
  try {
    const ck = await loadCheckpoint(path, { model, restoreRng: false });
    for (const t of ck.extra.values()) t.dispose();
    if (config.device && config.device !== "cpu") model.to({ device: config.device });
    model.eval();
    return { model, config, epoch: ck.epoch, path };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
