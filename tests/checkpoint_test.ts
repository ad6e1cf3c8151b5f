// Training-state checkpoints: a round trip restores a bit-identical model, optimizer, extra
// tensors and random state (training continues identically); bad files give errors naming them.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { Module } from "../src/nn/module.ts";
import { BatchNorm2d, Conv2d, Linear } from "../src/nn/layers.ts";
import { loadCheckpoint, saveCheckpoint } from "../src/nn/checkpoint.ts";
import { saveSafetensors } from "../src/nn/state_dict.ts";
import { SGD } from "../src/optim/sgd.ts";

class Small extends Module {
  readonly conv = this.registerModule("conv", new Conv2d(3, 4, 3, { padding: 1 }));
  readonly bn = this.registerModule("bn", new BatchNorm2d(4));
  readonly fc = this.registerModule("fc", new Linear(4, 5));
  forward(x: T.Tensor): T.Tensor {
    return T.scope(() =>
      this.fc.forward(T.adaptiveAvgPool2d(this.bn.forward(this.conv.forward(x)).relu()).flatten(1))
    );
  }
}

function bytesOf(t: T.Tensor): Uint8Array {
  const a = t.toArray();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function trainStep(model: Small, opt: SGD, seed: number): void {
  T.scope(() => {
    T.manualSeed(seed);
    const x = T.randn([2, 3, 6, 6]);
    const y = T.tensor(BigInt64Array.from([1n, 3n]));
    T.crossEntropy(model.forward(x), y).backward();
    opt.step();
  });
  opt.zeroGrad();
}

function makeOpt(model: Small): SGD {
  return new SGD([
    { params: model.conv.parameters(), lrMult: 0.1 },
    { params: [...model.bn.parameters(), ...model.fc.parameters()] },
  ], { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
}

Deno.test("checkpoint round trip is bit-identical and training continues identically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt_test_" });
  const path = `${dir}/state.safetensors`;
  const start = T.liveTensors();
  try {
    T.manualSeed(1);
    const a = new Small();
    const optA = makeOpt(a);
    trainStep(a, optA, 10);
    trainStep(a, optA, 11);
    optA.groups[1].lr = 0.05;
    const memory = T.randn([6, 4]);
    await saveCheckpoint(path, {
      model: a,
      optimizer: optA,
      extra: { memory },
      epoch: 3,
      config: { source: "duke", beta: 0.05 },
    });
    const drawnAfterSave = T.scope(() => T.rand([8]).toNumbers());

    T.manualSeed(2);
    const b = new Small();
    const optB = makeOpt(b);
    const loaded = await loadCheckpoint(path, { model: b, optimizer: optB });
    assert.strictEqual(loaded.epoch, 3);
    assert.deepStrictEqual(loaded.config, { source: "duke", beta: 0.05 });
    assert.ok(loaded.rngRestored);
    assert.deepStrictEqual(
      T.scope(() => T.rand([8]).toNumbers()),
      drawnAfterSave,
      "random state restored",
    );
    const sdA = a.stateDict();
    for (const [k, t] of b.stateDict()) {
      assert.strictEqual(t.dtype, sdA.get(k)!.dtype, k);
      assert.deepStrictEqual(bytesOf(t), bytesOf(sdA.get(k)!), `${k} bit-identical`);
    }
    const bufA = optA.stateDict().buffers, bufB = optB.stateDict().buffers;
    assert.strictEqual(bufB.length, bufA.length);
    bufA.forEach((t, i) => assert.deepStrictEqual(bytesOf(bufB[i]!), bytesOf(t!), `buffer ${i}`));
    assert.deepStrictEqual(optB.groups.map((g) => g.lr), [0.1, 0.05]);
    assert.deepStrictEqual(bytesOf(loaded.extra.get("memory")!), bytesOf(memory));

    trainStep(a, optA, 12);
    trainStep(b, optB, 12);
    const after = a.stateDict();
    for (const [k, t] of b.stateDict()) {
      assert.deepStrictEqual(bytesOf(t), bytesOf(after.get(k)!), `${k} after one more step`);
    }

    for (const t of loaded.extra.values()) t.dispose();
    memory.dispose();
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
    assert.strictEqual(T.liveTensors(), start, "no tensor left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: truncated, foreign and mismatched files give errors naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt_bad_" });
  const model = new Small();
  try {
    const good = `${dir}/good.safetensors`;
    await saveCheckpoint(good, { model, epoch: 0 });
    const bytes = await Deno.readFile(good);
    const cut = `${dir}/cut.safetensors`;
    await Deno.writeFile(cut, bytes.slice(0, bytes.length - 40));
    await assert.rejects(
      loadCheckpoint(cut, { model }),
      (e: Error) => e.message.startsWith(cut) && /cannot read checkpoint/.test(e.message),
    );
    const junk = `${dir}/junk.bin`;
    await Deno.writeFile(junk, new TextEncoder().encode("hello, not a checkpoint"));
    await assert.rejects(loadCheckpoint(junk, { model }), new RegExp(`^Error: ${junk}`));
    const weights = `${dir}/weights.safetensors`;
    await saveSafetensors(model, weights, { note: "plain weights" });
    await assert.rejects(
      loadCheckpoint(weights, { model }),
      /weights\.safetensors: not an ECN training checkpoint \(metadata format is null/,
    );
    const other = new Conv2dOnly();
    await assert.rejects(
      loadCheckpoint(good, { model: other }),
      /good\.safetensors: the model does not match the checkpoint: .*unexpected keys/,
    );
    other.dispose();
    await assert.rejects(
      loadCheckpoint(good, { model, optimizer: makeOpt(model) }),
      /good\.safetensors: corrupt checkpoint: it holds no optimizer state/,
    );
    assert.ok(
      [...Deno.readDirSync(dir)].every((e) => !e.name.includes(".tmp")),
      "no temporary file left",
    );
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

class Conv2dOnly extends Module {
  readonly conv = this.registerModule("conv", new Conv2d(3, 4, 3, { padding: 1 }));
  forward(x: T.Tensor): T.Tensor {
    return this.conv.forward(x);
  }
}
