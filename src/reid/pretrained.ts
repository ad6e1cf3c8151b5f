/**
 * ECN networks from files: a trained network back from a run's checkpoint (for evaluation and
 * retrieval), an ImageNet backbone from a weight file, and a backbone initialized from another
 * run's checkpoint (e.g. source-only before ECN).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { CHECKPOINT_FORMAT, loadCheckpoint } from "../nn/checkpoint.ts";
import { type Normalization, weightsNormalization } from "../nn/mobilenet.ts";
import { type ResNetStride, resnetStrideOf } from "../nn/resnet.ts";
import { readSafetensors } from "../nn/safetensors.ts";
import { rawToTensor } from "../nn/state_dict.ts";
import { weightsMetadata } from "../nn/weights.ts";
import { noGrad } from "../tensor/mod.ts";
import { SettingError, type TrainConfig } from "./config.ts";
import { type EcnArch, EcnNet } from "./ecn_net.ts";
import { checkpointFileOf } from "./run_folder.ts";

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
  const path = checkpointFileOf(pathOrRun);
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT || !metadata.config) {
    throw new Error(
      `${path}: not an ECN training checkpoint with its config (metadata format ` +
        `${JSON.stringify(metadata.format ?? null)}); an ImageNet weight file is read as ` +
        "weights, not as a checkpoint",
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

/** An ImageNet backbone ready to extract pool5 features, and the normalization of its inputs. */
export interface ImagenetBackbone {
  /** The network (eval mode; the new layers are untrained). */
  model: EcnNet;
  /** The input normalization the weight file declares (ImageNet's when it declares none). */
  normalization: Normalization;
}

/**
 * An ECN network of `arch` whose backbone is an ImageNet weight file (torchvision layout; the
 * ResNet stride placement from its metadata), in eval mode, for pool5 features without training.
 */
export async function loadImagenetBackbone(
  weights: string,
  arch: EcnArch = "resnet50",
): Promise<ImagenetBackbone> {
  const resnetStride = resnetStrideOf(await weightsMetadata(weights), weights);
  const model = new EcnNet({ arch, numSourceIds: 1, freezeUntil: "none", resnetStride });
  try {
    await model.loadBackboneWeights(weights);
    model.eval();
    return { model, normalization: await weightsNormalization(weights) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The stride placement a run's weight file or `init` checkpoint declares; "3x3" when none. */
export async function resolveResnetStride(config: TrainConfig): Promise<ResNetStride> {
  if (config.weights) return resnetStrideOf(await weightsMetadata(config.weights), config.weights);
  if (config.init) {
    const meta = await weightsMetadata(config.init);
    const c = meta.config ? JSON.parse(meta.config) as Partial<TrainConfig> : {};
    return c.resnetStride ?? "3x3";
  }
  return "3x3";
}

/**
 * Initializes the backbone (and the embedding) from a training checkpoint (the `init` setting),
 * e.g. a source-only run: every `base.`, `feat.` and `featBn.` tensor of matching shape is copied;
 * the classifier and the memory are not.
 */
export async function initBackboneFrom(model: EcnNet, path: string): Promise<void> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new SettingError(
      "init",
      `${path}: not an ECN training checkpoint (ImageNet weight files are backbone weights: the ` +
        "'weights' setting)",
    );
  }
  const own = model.stateDict();
  let copied = 0;
  const mismatched: string[] = [];
  noGrad(() => {
    for (const [k, raw] of tensors) {
      if (!k.startsWith("model.")) continue;
      const name = k.slice(6);
      if (name.startsWith("classifier.")) continue;
      const mine = own.get(name);
      if (!mine) continue;
      if (mine.shape.join(",") !== raw.shape.join(",")) {
        mismatched.push(`${name} [${raw.shape}] vs [${mine.shape}]`);
        continue;
      }
      using t = rawToTensor(raw, name);
      mine.copy_(t);
      copied++;
    }
  });
  if (mismatched.length > 0 || copied === 0) {
    throw new SettingError(
      "init",
      `${path}: the checkpoint does not fit this network (${model.arch}, ${model.numFeatures} ` +
        `features): ${copied} tensors matched; mismatched: ${mismatched.slice(0, 5).join("; ")}`,
    );
  }
}
