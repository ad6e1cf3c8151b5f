// The ECN network: layout, freezing and parameter groups, and equality with the reference
// network in PyTorch (outputs with dropout, gradients, running statistics) on the same weights.
import "./native.ts";
import assert from "node:assert";
import { existsSync } from "node:fs";
import { BatchNorm1d, BatchNorm2d } from "../src/nn/layers.ts";
import { rawToTensor, stateDictToRaw } from "../src/nn/state_dict.ts";
import { readSafetensors, writeSafetensors } from "../src/nn/safetensors.ts";
import type { RawStateDict, RawTensor } from "../src/nn/weights.ts";
import { type EcnArch, EcnNet } from "../src/reid/ecn_net.ts";
import * as T from "../src/tensor/mod.ts";
import { prng } from "./op_harness.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

const MOBILENET = new URL(
  "../../shared/weights/mobilenet_v2_imagenet.safetensors",
  import.meta.url,
).pathname;

function std(t: T.Tensor): number {
  const v = t.toNumbers();
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
}

Deno.test("EcnNet (ResNet-18): keys, init, frozen stages, parameter groups, extract", () => {
  T.manualSeed(1);
  using net = new EcnNet({ arch: "resnet18", numSourceIds: 7 });
  const sd = net.stateDict();
  assert.deepStrictEqual(sd.get("feat.weight")!.shape, [4096, 512]);
  assert.deepStrictEqual(sd.get("classifier.weight")!.shape, [7, 4096]);
  assert.ok(sd.has("base.layer4.1.bn2.running_var") && sd.has("feat_bn.num_batches_tracked"));
  // kaiming normal fan_out: std sqrt(2 / 4096); classifier N(0, 0.001²); biases 0, BN weight 1.
  assert.ok(Math.abs(std(net.feat.weight) / Math.sqrt(2 / 4096) - 1) < 0.02);
  assert.ok(Math.abs(std(net.classifier.weight) / 0.001 - 1) < 0.05);
  assert.ok(net.feat.bias!.toNumbers().every((v) => v === 0));
  assert.ok(net.featBn.weight!.toNumbers().every((v) => v === 1));
  assert.deepStrictEqual(net.frozenStages, [
    "conv1",
    "bn1",
    "relu",
    "maxpool",
    "layer1",
    "layer2",
  ]);
  const frozen = net.namedParameters().filter(([, p]) => !p.requiresGrad).map(([n]) => n);
  assert.ok(frozen.length > 0);
  assert.ok(frozen.every((n) => /^base\.(conv1|bn1|layer1|layer2)\./.test(n)), frozen.join());
  assert.ok(
    net.namedParameters().filter(([n]) => n.startsWith("base.layer3.")).every(([, p]) =>
      p.requiresGrad
    ),
  );
  const [backbone, fresh] = net.paramGroups();
  assert.strictEqual(backbone.lrMult, 0.1);
  assert.strictEqual(fresh.lrMult, 1);
  const names = new Map(net.namedParameters().map(([n, p]) => [p, n]));
  const bNames = backbone.params.map((p) => names.get(p)!);
  assert.ok(bNames.every((n) => /^base\.layer[34]\./.test(n)), bNames.join());
  assert.strictEqual(bNames.length, 2 * (2 * 6 + 3));
  assert.deepStrictEqual(fresh.params.map((p) => names.get(p)), [
    "feat.weight",
    "feat.bias",
    "feat_bn.weight",
    "feat_bn.bias",
    "classifier.weight",
    "classifier.bias",
  ]);
  // train() keeps the frozen BatchNorms (downsample ones too) in eval mode.
  net.train();
  for (const [n, m] of net.namedModules()) {
    if (!(m instanceof BatchNorm2d || m instanceof BatchNorm1d)) continue;
    assert.strictEqual(m.training, !/^base\.(bn1|layer1|layer2)/.test(n), n);
  }
  T.scope(() => {
    const x = T.randn([3, 3, 64, 32]);
    assert.deepStrictEqual(net.extract(x).shape, [3, 512]);
    const e = net.extract(x, "embedding");
    assert.deepStrictEqual(e.shape, [3, 4096]);
    assert.ok(e.norm(2, 1).toNumbers().every((v) => Math.abs(v - 1) < 1e-5));
    assert.ok(net.training && net.featBn.training, "extract restores train mode");
    const out = net.forwardAll(x);
    assert.deepStrictEqual(out.logits.shape, [3, 7]);
    assert.deepStrictEqual(out.tgtFeat.shape, [3, 4096]);
    assert.deepStrictEqual(net.forwardTarget(x).shape, [3, 4096]);
  });

  using none = new EcnNet({
    arch: "resnet18",
    numSourceIds: 3,
    freezeUntil: "none",
    numFeatures: 16,
    dropout: 0,
  });
  assert.ok(none.parameters().every((p) => p.requiresGrad));
  assert.deepStrictEqual(none.stateDict().get("feat.weight")!.shape, [16, 512]);
  assert.throws(
    () => new EcnNet({ arch: "resnet18", numSourceIds: 3, freezeUntil: "layer9" }),
    /freezeUntil "layer9" is not a stage of resnet18.*conv1, bn1/,
  );
  assert.throws(() => new EcnNet({ arch: "resnet18", numSourceIds: 0 }), /numSourceIds/);
});

Deno.test("EcnNet (MobileNetV2): features.0-6 frozen; ImageNet backbone weights load", async () => {
  T.manualSeed(2);
  using net = new EcnNet({ arch: "mobilenet_v2", numSourceIds: 5, numFeatures: 32 });
  assert.strictEqual(net.pool5Dim, 1280);
  assert.deepStrictEqual(net.frozenStages, [0, 1, 2, 3, 4, 5, 6].map((i) => `features.${i}`));
  for (const [n, p] of net.namedParameters()) {
    assert.strictEqual(p.requiresGrad, !/^base\.features\.[0-6]\./.test(n), n);
  }
  assert.ok(net.namedParameters().every(([n]) => !n.startsWith("base.classifier")));
  if (!existsSync(MOBILENET)) {
    console.warn(`skipped the weight-loading part: ${MOBILENET} is absent`);
    return;
  }
  await net.loadBackboneWeights(MOBILENET);
  const { tensors } = await readSafetensors(MOBILENET);
  using want = rawToTensor(tensors.get("features.17.conv.2.weight")!);
  assert.deepStrictEqual(
    net.stateDict().get("base.features.17.conv.2.weight")!.toNumbers(),
    want.toNumbers(),
  );
  assert.ok(!net.stateDict().get("base.features.0.0.weight")!.requiresGrad, "still frozen");
  using other = new EcnNet({ arch: "resnet18", numSourceIds: 5 });
  await assert.rejects(other.loadBackboneWeights(MOBILENET), /not a resnet18 backbone/);
});

function randomRaw(shape: number[], rnd: () => number): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    a[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return { dtype: "float32", shape, data: new Uint8Array(a.buffer) };
}

function errWithFloor(a: number[], b: number[], floor: number): number {
  let diff = 0, scale = floor;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length === b.length ? diff / scale : Infinity;
}

// Both run in float64: train-mode BatchNorm over a batch of four amplifies float32 rounding,
// whose order depends on the CPU's kernels. ResNet-18 runs with random weights; MobileNetV2 with
// the ImageNet backbone (random weights leave whole channels constant, and train-mode BatchNorm
// then amplifies rounding noise; ReLU6 edges make float32 gradients differ, see
// tests/mobilenet_test.ts).
async function compareWithReference(
  arch: EcnArch,
  size: [number, number],
  dtype: "float32" | "float64",
): Promise<void> {
  const rnd = prng(arch.length * 7919);
  const numIds = 10, numFeatures = 256, dropoutP = 0.5;
  T.manualSeed(3);
  using net = new EcnNet({ arch, numSourceIds: numIds, numFeatures, dropout: dropoutP });
  const pretrained = arch === "mobilenet_v2" && existsSync(MOBILENET);
  if (pretrained) await net.loadBackboneWeights(MOBILENET);
  // Non-trivial running statistics, so eval-mode (frozen) BatchNorms differ from batch ones.
  T.noGrad(() => {
    for (const [n, b] of net.namedBuffers()) {
      if (pretrained && n.startsWith("base.")) continue;
      if (n.endsWith("running_mean")) T.scope(() => b.copy_(T.randn(b.shape).mul(0.1)));
      if (n.endsWith("running_var")) T.scope(() => b.copy_(T.rand(b.shape).add(0.5)));
    }
  });
  const dir = Deno.makeTempDirSync();
  try {
    await writeSafetensors(`${dir}/state.safetensors`, stateDictToRaw(net.stateDict()));
    const n = 4;
    const inputs: RawStateDict = new Map([
      ["x", randomRaw([n, 3, ...size], rnd)],
      ["r_logits", randomRaw([n, numIds], rnd)],
      ["r_tgt", randomRaw([n, numFeatures], rnd)],
      ["r_pool5", randomRaw([n, net.pool5Dim], rnd)],
    ]);
    await writeSafetensors(`${dir}/input.safetensors`, inputs);
    const cases = [
      { name: "eval", training: false, seed: 21 },
      { name: "train", training: true, seed: 22 },
    ];
    const report = await runOracleJson<{ cases: Record<string, { no_grad: string[] }> }>(
      "ecn_net_reference.py",
      {
        arch,
        num_features: numFeatures,
        dropout: dropoutP,
        num_classes: numIds,
        dtype,
        frozen: net.frozenStages,
        state: `${dir}/state.safetensors`,
        input: `${dir}/input.safetensors`,
        out_dir: dir,
        cases,
      },
    );
    const initial = stateDictToRaw(net.stateDict());
    for (const c of cases) {
      net.to({ dtype: "float32" });
      net.loadStateDict(initial);
      net.to({ dtype });
      for (const p of net.parameters()) p.setGrad(null);
      net.train(c.training);
      const want = (await readSafetensors(`${dir}/${c.name}.safetensors`)).tensors;
      const ref = (k: string) => {
        const raw = want.get(k);
        assert.ok(raw, `${c.name}: the reference has no ${k}`);
        using t = rawToTensor(raw, k);
        return t.toNumbers();
      };
      T.scope(() => {
        const [x, rl, rt, rp] = ["x", "r_logits", "r_tgt", "r_pool5"].map((k) =>
          rawToTensor(inputs.get(k)!).to({ dtype })
        );
        T.manualSeed(c.seed);
        const out = net.forwardAll(x);
        out.logits.mul(rl).sum().add(out.tgtFeat.mul(rt).sum()).add(out.pool5.mul(rp).sum())
          .backward();
        const errs: string[] = [];
        const cmp = (label: string, got: number[], key: string, floor = 1e-6) => {
          const e = errWithFloor(got, ref(key), floor);
          if (!(e <= 1e-4)) errs.push(`${label}: relative error ${e.toExponential(2)}`);
        };
        cmp("pool5", out.pool5.toNumbers(), "pool5");
        cmp("tgtFeat", out.tgtFeat.toNumbers(), "tgt");
        cmp("logits", out.logits.toNumbers(), "logits");
        if (c.training) {
          // Dropout really dropped something, with the same mask as PyTorch (checked above).
          assert.ok(out.tgtFeat.toNumbers().filter((v) => v === 0).length > n * numFeatures / 4);
        }
        // Gradients relative to each tensor's largest, with a floor at 1e-6 of the largest one.
        const noGrad: string[] = [];
        const grads: Array<[string, number[]]> = [];
        for (const [name, p] of net.namedParameters()) {
          if (p.grad === null) noGrad.push(name);
          else grads.push([name, p.grad.toNumbers()]);
        }
        const top = grads.reduce(
          (t, [name]) => ref(`grad.${name}`).reduce((u, v) => Math.max(u, Math.abs(v)), t),
          0,
        );
        for (const [name, g] of grads) {
          if (c.training && name === "feat.bias") {
            // A train-mode BatchNorm removes any constant shift: the gradient is rounding noise.
            const worst = g.reduce((u, v) => Math.max(u, Math.abs(v)), 0);
            if (!(worst <= 1e-5 * top)) errs.push(`grad feat.bias is not ~0: ${worst}`);
          } else {
            cmp(`grad ${name}`, g, `grad.${name}`, 1e-6 * top);
          }
        }
        assert.deepStrictEqual(noGrad, report.cases[c.name].no_grad, "parameters without grad");
        for (const [name, b] of net.namedBuffers()) {
          cmp(`buffer ${name}`, b.toNumbers(), `after.${name}`);
        }
        assert.deepStrictEqual(errs, [], `${arch} ${c.name}:\n${errs.join("\n")}`);
      });
      // Frozen parameters got no gradient; frozen BatchNorms kept their statistics.
      const frozen = net.namedParameters().filter(([, p]) => !p.requiresGrad);
      assert.ok(frozen.length > 0 && frozen.every(([, p]) => p.grad === null));
      for (const [name, b] of net.namedBuffers()) {
        const isFrozen = net.frozenStages.some((s) => name.startsWith(`base.${s}.`));
        if (!isFrozen || !c.training) continue;
        const before = initial.get(name)!;
        using t0 = rawToTensor(before);
        using t1 = t0.to({ dtype: b.dtype });
        assert.deepStrictEqual(b.toNumbers(), t1.toNumbers(), `frozen ${name} changed`);
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

oracleTest(
  "EcnNet (ResNet-18) equals the reference network: outputs, dropout, grads",
  () => compareWithReference("resnet18", [64, 32], "float64"),
);

oracleTest(
  "EcnNet (MobileNetV2) equals the reference network: outputs, dropout, grads",
  () => compareWithReference("mobilenet_v2", [64, 32], "float64"),
);
