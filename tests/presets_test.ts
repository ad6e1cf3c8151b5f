// The presets of `deno task train --preset NAME`: each gives settings that validate, the CPU-scale
// protocol is the one the README's Duke <-> Market tables were measured with, and a preset that
// starts from ImageNet weights refuses to run without them or without data, naming what it lacks.
import assert from "node:assert";
import {
  CPU_OVERRIDES,
  mergeConfig,
  presetOverrides,
  TRAIN_PRESETS,
  validateConfig,
} from "../src/reid/config.ts";

const ALL = { data: true, weights: true };

Deno.test("every preset merged with data sets gives settings that validate", () => {
  for (const name of Object.keys(TRAIN_PRESETS)) {
    const c = mergeConfig(presetOverrides(name, ALL), { source: "S", target: "T", out: "o" });
    validateConfig(c);
  }
});

Deno.test("the cpu preset is the README's CPU-scale protocol", () => {
  const c = mergeConfig(presetOverrides("cpu", ALL), { source: "S", target: "T", out: "o" });
  assert.deepStrictEqual(
    [c.arch, c.height, c.width, c.numFeatures, c.batchSize, c.targetBatchSize],
    ["mobilenet_v2", 128, 64, 1024, 32, 64],
  );
  assert.deepStrictEqual(
    [c.lr, c.backboneLrMult, c.maxStepsPerEpoch, c.epochs, c.stepSize, c.neighborhoodFromEpoch],
    [0.01, 1, 200, 24, 18, 4],
  );
  // The rest stays the reference's: ECN's loss settings, the frozen stages, SGD.
  assert.deepStrictEqual(
    [c.beta, c.knn, c.alpha, c.lambda, c.freezeUntil, c.momentum, c.weightDecay, c.nesterov],
    [0.05, 6, 0.01, 0.3, null, 0.9, 5e-4, true],
  );
  // A copy: changing what a caller got leaves the preset as it was.
  const got = presetOverrides("cpu", ALL);
  got.epochs = 1;
  assert.strictEqual(CPU_OVERRIDES.epochs, 24);
});

Deno.test("presets refuse what they cannot run, naming the preset and what is missing", () => {
  assert.throws(
    () => presetOverrides("fast", ALL),
    /^Error: --preset fast: expected one of quick, paper, cpu$/,
  );
  assert.throws(
    () => presetOverrides("cpu", { data: true, weights: false }),
    /--preset cpu starts from ImageNet MobileNetV2 .*: give --weights FILE/,
  );
  assert.throws(
    () => presetOverrides("paper", { data: true, weights: false }),
    /--preset paper starts from ImageNet ResNet-50 \(make it with `deno task weights resnet50/,
  );
  assert.throws(
    () => presetOverrides("cpu", { data: false, weights: true }),
    /--preset cpu needs --source and --target/,
  );
  // The quick preset trains from scratch, on the embedded data when none is given.
  assert.strictEqual(presetOverrides("quick", { data: false, weights: false }).arch, "resnet18");
});
