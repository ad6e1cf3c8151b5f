// SGD with parameter groups, Nesterov / dampening, weight decay and the step schedule against
// torch.optim.SGD + MultiStepLR; the optimizer state survives stateDict/loadStateDict mid-run.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { SGD } from "../src/optim/sgd.ts";
import { StepSchedule } from "../src/optim/schedule.ts";
import { prng, relError } from "./op_harness.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

const rnd = prng(7);
const values = (n: number) => Array.from({ length: n }, () => Math.fround(rnd() * 2 - 1));
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

for (
  const cfg of [
    { momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true },
    { momentum: 0.9, dampening: 0.1, weightDecay: 1e-3, nesterov: false },
  ]
) {
  oracleTest(
    `SGD ${JSON.stringify(cfg)}, two groups and a step schedule equal torch after 5 steps`,
    async () => {
      const shapes = [[4, 3], [3], [2, 2], [5]];
      const params = shapes.map((s) => ({ data: values(size(s)), shape: s }));
      const grads = Array.from(
        { length: 5 },
        () => shapes.map((s) => ({ data: values(size(s)), shape: s })),
      );
      const groups = [{ indices: [0, 1], lrMult: 1 }, { indices: [2, 3], lrMult: 10 }];
      const baseLr = 0.01, gamma = 0.1, milestones = [3];
      const want = await runOracleJson<{ params: number[][]; lrs: number[][] }>(
        "sgd_reference.py",
        {
          params,
          grads,
          groups: groups.map((g) => ({ indices: g.indices, lr_mult: g.lrMult })),
          base_lr: baseLr,
          momentum: cfg.momentum,
          dampening: cfg.dampening,
          weight_decay: cfg.weightDecay,
          nesterov: cfg.nesterov,
          milestones,
          gamma,
        },
      );
      const start = T.liveTensors();
      const ps = params.map((p) =>
        T.tensor(Float32Array.from(p.data), { shape: p.shape, requiresGrad: true })
      );
      const makeOpt = () =>
        new SGD(
          groups.map((g) => ({ params: g.indices.map((i) => ps[i]), lrMult: g.lrMult })),
          { lr: baseLr, ...cfg },
        );
      const schedule = new StepSchedule({ baseLr, gamma, milestones });
      let opt = makeOpt();
      grads.forEach((step, s) => {
        if (s === 3) {
          // A fresh optimizer that only has the saved state must continue identically.
          const next = makeOpt();
          next.loadStateDict(opt.stateDict());
          opt.dispose();
          opt = next;
        }
        schedule.apply(opt, s);
        assert.deepStrictEqual(
          opt.groups.map((g) => g.lr.toPrecision(12)),
          want.lrs[s].map((v) => v.toPrecision(12)),
          `step ${s} learning rates`,
        );
        T.scope(() => {
          step.forEach((g, i) =>
            ps[i].setGrad(T.tensor(Float32Array.from(g.data), { shape: g.shape }))
          );
          assert.strictEqual(opt.step(), 4);
        });
        opt.zeroGrad();
      });
      ps.forEach((p, i) => {
        const e = relError(p.toNumbers(), want.params[i]);
        assert.ok(e <= 1e-5, `param ${i}: relative error ${e}`);
      });
      opt.dispose();
      ps.forEach((p) => p.dispose());
      assert.strictEqual(T.liveTensors(), start, "buffers and parameters all freed");
    },
  );
}

Deno.test("SGD: buffers outlive a caller's scope; bad settings and states are refused", () => {
  const start = T.liveTensors();
  const p = T.zeros([3], { requiresGrad: true });
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
  T.scope(() => {
    p.setGrad(T.ones([3]));
    opt.step();
  });
  const buf = opt.stateDict().buffers[0];
  assert.ok(buf && !buf.disposed, "momentum buffer survives the scope");
  assert.deepStrictEqual(buf.toNumbers(), [1, 1, 1]);
  assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /Nesterov momentum needs/);
  assert.throws(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), /appears twice/);
  assert.throws(
    () => opt.loadStateDict({ lrs: [0.1, 0.2], buffers: [null] }),
    /state has 2 groups/,
  );
  const wrong = T.zeros([4]);
  assert.throws(() => opt.loadStateDict({ lrs: [0.1], buffers: [wrong] }), /shape \[4\]/);
  wrong.dispose();
  opt.dispose();
  p.zeroGrad();
  p.dispose();
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("StepSchedule: ECN's x0.1 at epoch 40 with a 10x group", () => {
  const p = T.zeros([1], { requiresGrad: true });
  const q = T.zeros([1], { requiresGrad: true });
  const opt = new SGD([{ params: [p], lrMult: 0.1 }, { params: [q], lrMult: 1 }], { lr: 0.1 });
  const byStep = new StepSchedule({ baseLr: 0.1, stepSize: 40 });
  assert.strictEqual(byStep.apply(opt, 39), 0.1);
  assert.deepStrictEqual(opt.groups.map((g) => g.lr), [0.1 * 0.1, 0.1]);
  byStep.apply(opt, 40);
  assert.deepStrictEqual(opt.groups.map((g) => g.lr), [0.1 * 0.1 * 0.1, 0.1 * 0.1]);
  assert.strictEqual(new StepSchedule({ baseLr: 1, milestones: [40, 10] }).lrAt(45), 1 * 0.1 ** 2);
  assert.throws(() => new StepSchedule({ baseLr: 1, stepSize: 0 }), /positive integer/);
  p.dispose();
  q.dispose();
});
