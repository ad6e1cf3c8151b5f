// Oracle tests: every op family's forward and backward against PyTorch (Debian python3-torch)
// on random inputs; float32 relative error at most 1e-5 (convolution and matmul 1e-4).
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { type OpCase, runOpCases } from "./op_harness.ts";
import { oracleTest } from "./oracle/oracle.ts";

const g = (shape: number[]) => ({ shape, requiresGrad: true });
const pos = (shape: number[]) => ({ shape, requiresGrad: true, gen: "positive" as const });

const MATH: OpCase[] = [
  { name: "add", inputs: { a: g([3, 4]), b: g([4]) }, expr: "a + b", run: (v) => v.a.add(v.b) },
  { name: "sub", inputs: { a: g([3, 4]), b: g([3, 1]) }, expr: "a - b", run: (v) => v.a.sub(v.b) },
  { name: "mul", inputs: { a: g([2, 3]), b: g([2, 3]) }, expr: "a * b", run: (v) => v.a.mul(v.b) },
  {
    name: "div",
    inputs: { a: g([2, 3]), b: pos([2, 3]) },
    expr: "a / b",
    run: (v) => v.a.div(v.b),
  },
  { name: "pow scalar", inputs: { a: pos([5]) }, expr: "a ** 2.5", run: (v) => v.a.pow(2.5) },
  {
    name: "pow tensor",
    inputs: { a: pos([5]), b: g([5]) },
    expr: "a ** b",
    run: (v) => v.a.pow(v.b),
  },
  {
    name: "scalar ops",
    inputs: { a: g([4]) },
    expr: "((a + 2) * 3 - 1) / 4",
    run: (v) => v.a.add(2).mul(3).sub(1).div(4),
  },
  { name: "rsub", inputs: { a: g([4]) }, expr: "1 - a", run: (v) => v.a.rsub(1) },
  {
    name: "maximum",
    inputs: { a: g([6]), b: g([6]) },
    expr: "torch.maximum(a, b)",
    run: (v) => v.a.maximum(v.b),
  },
  {
    name: "minimum",
    inputs: { a: g([6]), b: g([6]) },
    expr: "torch.minimum(a, b)",
    run: (v) => v.a.minimum(v.b),
  },
  { name: "neg", inputs: { a: g([4]) }, expr: "-a", run: (v) => v.a.neg() },
  { name: "exp", inputs: { a: g([4]) }, expr: "a.exp()", run: (v) => v.a.exp() },
  { name: "log", inputs: { a: pos([4]) }, expr: "a.log()", run: (v) => v.a.log() },
  { name: "sqrt", inputs: { a: pos([4]) }, expr: "a.sqrt()", run: (v) => v.a.sqrt() },
  { name: "rsqrt", inputs: { a: pos([4]) }, expr: "a.rsqrt()", run: (v) => v.a.rsqrt() },
  { name: "abs", inputs: { a: g([4]) }, expr: "a.abs()", run: (v) => v.a.abs() },
  { name: "relu", inputs: { a: g([3, 5]) }, expr: "a.relu()", run: (v) => v.a.relu() },
  {
    name: "relu6",
    inputs: {
      a: {
        shape: [20],
        requiresGrad: true,
        gen: { data: Array.from({ length: 20 }, (_, i) => i - 7.5) },
      },
    },
    expr: "F.relu6(a)",
    run: (v) => v.a.relu6(),
  },
  { name: "sigmoid", inputs: { a: g([4]) }, expr: "a.sigmoid()", run: (v) => v.a.sigmoid() },
  { name: "tanh", inputs: { a: g([4]) }, expr: "a.tanh()", run: (v) => v.a.tanh() },
  { name: "square", inputs: { a: g([4]) }, expr: "a.square()", run: (v) => v.a.square() },
  {
    name: "reciprocal",
    inputs: { a: pos([4]) },
    expr: "a.reciprocal()",
    run: (v) => v.a.reciprocal(),
  },
  {
    name: "clamp",
    inputs: { a: g([10]) },
    expr: "a.clamp(-0.5, 0.7)",
    run: (v) => v.a.clamp(-0.5, 0.7),
  },
  {
    name: "clamp min",
    inputs: { a: g([10]) },
    expr: "a.clamp(min=0.1)",
    run: (v) => v.a.clamp(0.1),
  },
  {
    name: "comparisons",
    inputs: { a: { shape: [8] }, b: { shape: [8] } },
    expr: "(a < b, a <= b, a > b, a >= b, a == a, a != b)",
    run: (v) => [v.a.lt(v.b), v.a.le(v.b), v.a.gt(v.b), v.a.ge(v.b), v.a.eq(v.a), v.a.ne(v.b)],
  },
  {
    name: "where",
    inputs: { c: { shape: [6], dtype: "bool" }, a: g([6]), b: g([6]) },
    expr: "torch.where(c, a, b)",
    run: (v) => T.where(v.c, v.a, v.b),
  },
  {
    name: "maskedFill",
    inputs: { a: g([2, 3]), m: { shape: [2, 3], dtype: "bool" } },
    expr: "a.masked_fill(m, -1.5)",
    run: (v) => v.a.maskedFill(v.m, -1.5),
  },
];

const REDUCE: OpCase[] = [
  { name: "sum all", inputs: { a: g([3, 4]) }, expr: "a.sum()", run: (v) => v.a.sum() },
  { name: "sum dim", inputs: { a: g([3, 4, 2]) }, expr: "a.sum(1)", run: (v) => v.a.sum(1) },
  {
    name: "sum dims keepdim",
    inputs: { a: g([3, 4, 2]) },
    expr: "a.sum((0, 2), keepdim=True)",
    run: (v) => v.a.sum([0, 2], true),
  },
  { name: "mean", inputs: { a: g([3, 4]) }, expr: "a.mean()", run: (v) => v.a.mean() },
  { name: "mean dim", inputs: { a: g([3, 4]) }, expr: "a.mean(-1)", run: (v) => v.a.mean(-1) },
  { name: "amax", inputs: { a: g([3, 4]) }, expr: "a.amax(1)", run: (v) => v.a.amax(1) },
  { name: "amin", inputs: { a: g([3, 4]) }, expr: "a.amin(0)", run: (v) => v.a.amin(0) },
  {
    name: "logsumexp",
    inputs: { a: g([3, 4]) },
    expr: "a.logsumexp(1)",
    run: (v) => v.a.logsumexp(1),
  },
  {
    name: "var",
    inputs: { a: g([3, 5]) },
    expr: "a.var(1, unbiased=False)",
    run: (v) => v.a.var(1),
  },
  { name: "norm", inputs: { a: g([3, 4]) }, expr: "a.norm(2, dim=1)", run: (v) => v.a.norm(2, 1) },
  { name: "norm all", inputs: { a: g([3, 4]) }, expr: "a.norm()", run: (v) => v.a.norm() },
  {
    name: "argmax",
    inputs: { a: { shape: [4, 7] } },
    expr: "(a.argmax(1), a.argmin(0), a.argmax())",
    run: (v) => [v.a.argmax(1), v.a.argmin(0), v.a.argmax()],
  },
  { name: "cumsum", inputs: { a: g([3, 4]) }, expr: "a.cumsum(1)", run: (v) => v.a.cumsum(1) },
  {
    name: "any/all",
    inputs: { a: { shape: [3, 4], dtype: "bool" } },
    expr: "(a.any(1), a.all(0))",
    run: (v) => [v.a.any(1), v.a.all(0)],
  },
];

const LINALG: OpCase[] = [
  {
    name: "mm",
    inputs: { a: g([5, 7]), b: g([7, 3]) },
    expr: "a.mm(b)",
    run: (v) => v.a.mm(v.b),
    tol: 1e-4,
  },
  {
    name: "matmul batched",
    inputs: { a: g([2, 5, 7]), b: g([7, 3]) },
    expr: "a.matmul(b)",
    run: (v) => v.a.matmul(v.b),
    tol: 1e-4,
  },
  {
    name: "addmm",
    inputs: { c: g([3]), a: g([5, 7]), b: g([7, 3]) },
    expr: "torch.addmm(c, a, b, beta=0.5, alpha=2.0)",
    run: (v) => T.addmm(v.c, v.a, v.b, 0.5, 2),
    tol: 1e-4,
  },
  { name: "t", inputs: { a: g([2, 5]) }, expr: "a.t()", run: (v) => v.a.t() },
  { name: "softmax", inputs: { a: g([4, 6]) }, expr: "a.softmax(1)", run: (v) => v.a.softmax(1) },
  {
    name: "logSoftmax",
    inputs: { a: g([4, 6]) },
    expr: "a.log_softmax(-1)",
    run: (v) => v.a.logSoftmax(-1),
  },
  {
    name: "topk",
    inputs: { a: g([3, 9]) },
    expr: "a.topk(4, dim=1)",
    run: (v) => {
      const r = v.a.topk(4, { dim: 1 });
      return [r.values, r.indices];
    },
  },
  {
    name: "topk smallest",
    inputs: { a: { shape: [9, 3] } },
    expr: "a.topk(2, dim=0, largest=False)",
    run: (v) => {
      const r = v.a.topk(2, { dim: 0, largest: false });
      return [r.values, r.indices];
    },
  },
  {
    name: "sort",
    inputs: { a: g([3, 8]) },
    expr: "a.sort(1, descending=True)",
    run: (v) => {
      const r = v.a.sort(1, { descending: true });
      return [r.values, r.indices];
    },
  },
  {
    name: "argsort stable",
    inputs: { a: { shape: [12], gen: { int: [0, 4] } } },
    expr: "a.argsort(stable=True)",
    run: (v) => v.a.argsort(-1, { stable: true }),
  },
];

const INDEXING: OpCase[] = [
  {
    name: "reshape",
    inputs: { a: g([2, 6]) },
    expr: "a.reshape(3, -1)",
    run: (v) => v.a.reshape([3, -1]),
  },
  { name: "view", inputs: { a: g([2, 6]) }, expr: "a.view(4, 3)", run: (v) => v.a.view([4, 3]) },
  {
    name: "permute+contiguous",
    inputs: { a: g([2, 3, 4]) },
    expr: "a.permute(2, 0, 1).contiguous()",
    run: (v) => v.a.permute([2, 0, 1]).contiguous(),
  },
  {
    name: "transpose",
    inputs: { a: g([2, 3, 4]) },
    expr: "a.transpose(0, 2)",
    run: (v) => v.a.transpose(0, 2),
  },
  {
    name: "expand",
    inputs: { a: g([3, 1]) },
    expr: "a.expand(3, 4)",
    run: (v) => v.a.expand([3, 4]),
  },
  {
    name: "repeat",
    inputs: { a: g([2, 3]) },
    expr: "a.repeat(2, 2)",
    run: (v) => v.a.repeat([2, 2]),
  },
  { name: "flip", inputs: { a: g([2, 3, 4]) }, expr: "a.flip(2)", run: (v) => v.a.flip([2]) },
  {
    name: "squeeze/unsqueeze",
    inputs: { a: g([2, 1, 3]) },
    expr: "a.squeeze(1).unsqueeze(0)",
    run: (v) => v.a.squeeze(1).unsqueeze(0),
  },
  {
    name: "flatten",
    inputs: { a: g([2, 3, 4]) },
    expr: "a.flatten(1)",
    run: (v) => v.a.flatten(1),
  },
  {
    name: "slice",
    inputs: { a: g([6, 5]) },
    expr: "a[1:5:2, 1:]",
    run: (v) => v.a.slice(0, 1, 5, 2).slice(1, 1, 5),
  },
  {
    name: "select",
    inputs: { a: g([3, 5]) },
    expr: "a.select(1, 2)",
    run: (v) => v.a.select(1, 2),
  },
  {
    name: "cat",
    inputs: { a: g([2, 3]), b: g([4, 3]) },
    expr: "torch.cat([a, b], 0)",
    run: (v) => T.cat([v.a, v.b], 0),
  },
  {
    name: "stack",
    inputs: { a: g([2, 3]), b: g([2, 3]) },
    expr: "torch.stack([a, b], 1)",
    run: (v) => T.stack([v.a, v.b], 1),
  },
  {
    name: "indexSelect",
    inputs: { a: g([5, 3]), i: { shape: [4], dtype: "int64", gen: { int: [0, 5] } } },
    expr: "a.index_select(0, i)",
    run: (v) => v.a.indexSelect(0, v.i),
  },
  {
    name: "indexCopy",
    inputs: {
      a: g([5, 3]),
      i: { shape: [2], dtype: "int64", gen: { data: [3, 0] } },
      s: g([2, 3]),
    },
    expr: "a.index_copy(0, i, s)",
    run: (v) => v.a.indexCopy(0, v.i, v.s),
  },
  {
    name: "gather",
    inputs: { a: g([3, 5]), i: { shape: [3, 2], dtype: "int64", gen: { int: [0, 5] } } },
    expr: "a.gather(1, i)",
    run: (v) => v.a.gather(1, v.i),
  },
  {
    name: "scatter value",
    inputs: {
      a: g([3, 5]),
      i: { shape: [3, 2], dtype: "int64", gen: { data: [0, 1, 2, 3, 4, 0] } },
    },
    expr: "a.scatter(1, i, 2.0)",
    run: (v) => v.a.scatter(1, v.i, 2),
  },
  {
    name: "scatter src",
    inputs: {
      a: g([3, 5]),
      i: { shape: [3, 2], dtype: "int64", gen: { data: [0, 1, 2, 3, 4, 0] } },
      s: g([3, 2]),
    },
    expr: "a.scatter(1, i, s)",
    run: (v) => v.a.scatter(1, v.i, v.s),
  },
  {
    name: "maskedSelect",
    inputs: { a: g([3, 4]), m: { shape: [3, 4], dtype: "bool" } },
    expr: "a.masked_select(m)",
    run: (v) => v.a.maskedSelect(v.m),
  },
  {
    name: "oneHot",
    inputs: { i: { shape: [5], dtype: "int64", gen: { int: [0, 4] } } },
    expr: "F.one_hot(i, 4)",
    run: (v) => T.oneHot(v.i, 4),
  },
];

const NN: OpCase[] = [
  {
    name: "conv2d",
    inputs: { x: g([2, 3, 9, 8]), w: g([4, 3, 3, 3]), b: g([4]) },
    expr: "F.conv2d(x, w, b, stride=2, padding=1)",
    run: (v) => T.conv2d(v.x, v.w, v.b, { stride: 2, padding: 1 }),
    tol: 1e-4,
  },
  {
    name: "conv2d 7x7 no bias",
    inputs: { x: g([1, 3, 16, 12]), w: g([5, 3, 7, 7]) },
    expr: "F.conv2d(x, w, None, stride=2, padding=3)",
    run: (v) => T.conv2d(v.x, v.w, null, { stride: 2, padding: 3 }),
    tol: 1e-4,
  },
  {
    name: "conv2d grouped",
    inputs: { x: g([2, 4, 6, 6]), w: g([6, 2, 3, 3]) },
    expr: "F.conv2d(x, w, None, padding=1, groups=2)",
    run: (v) => T.conv2d(v.x, v.w, null, { padding: 1, groups: 2 }),
    tol: 1e-4,
  },
  {
    name: "conv2d depthwise",
    inputs: { x: g([2, 4, 7, 7]), w: g([4, 1, 3, 3]) },
    expr: "F.conv2d(x, w, None, stride=2, padding=1, groups=4)",
    run: (v) => T.conv2d(v.x, v.w, null, { stride: 2, padding: 1, groups: 4 }),
    tol: 1e-4,
  },
  {
    name: "conv2d dilated",
    inputs: { x: g([1, 2, 9, 9]), w: g([3, 2, 3, 3]) },
    expr: "F.conv2d(x, w, None, padding=2, dilation=2)",
    run: (v) => T.conv2d(v.x, v.w, null, { padding: 2, dilation: 2 }),
    tol: 1e-4,
  },
  {
    name: "batchNorm train",
    inputs: {
      x: g([4, 3, 5, 5]),
      w: g([3]),
      b: g([3]),
      rm: { shape: [3] },
      rv: { shape: [3], gen: "positive" },
    },
    expr: "F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)",
    run: (v) =>
      T.batchNorm(v.x, v.rm, v.rv, { weight: v.w, bias: v.b, training: true, momentum: 0.1 }),
    after: ["rm", "rv"],
  },
  {
    name: "batchNorm eval",
    inputs: {
      x: g([4, 3, 5, 5]),
      w: g([3]),
      b: g([3]),
      rm: { shape: [3] },
      rv: { shape: [3], gen: "positive" },
    },
    expr: "F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-5)",
    run: (v) => T.batchNorm(v.x, v.rm, v.rv, { weight: v.w, bias: v.b, training: false }),
    after: ["rm", "rv"],
  },
  {
    name: "batchNorm1d train",
    inputs: {
      x: g([6, 8]),
      w: g([8]),
      b: g([8]),
      rm: { shape: [8] },
      rv: { shape: [8], gen: "positive" },
    },
    expr: "F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)",
    run: (v) => T.batchNorm(v.x, v.rm, v.rv, { weight: v.w, bias: v.b, training: true }),
    after: ["rm", "rv"],
  },
  {
    name: "linear",
    inputs: { x: g([4, 6]), w: g([3, 6]), b: g([3]) },
    expr: "F.linear(x, w, b)",
    run: (v) => T.linear(v.x, v.w, v.b),
    tol: 1e-4,
  },
  {
    name: "maxPool2d",
    inputs: { x: g([2, 3, 9, 9]) },
    expr: "F.max_pool2d(x, 3, 2, 1)",
    run: (v) => T.maxPool2d(v.x, 3, { stride: 2, padding: 1 }),
  },
  {
    name: "avgPool2d",
    inputs: { x: g([2, 3, 8, 8]) },
    expr: "F.avg_pool2d(x, 2)",
    run: (v) => T.avgPool2d(v.x, 2),
  },
  {
    name: "adaptiveAvgPool2d 1",
    inputs: { x: g([2, 5, 8, 4]) },
    expr: "F.adaptive_avg_pool2d(x, 1)",
    run: (v) => T.adaptiveAvgPool2d(v.x, 1),
  },
  {
    name: "adaptiveAvgPool2d 3x2",
    inputs: { x: g([2, 5, 8, 4]) },
    expr: "F.adaptive_avg_pool2d(x, (3, 2))",
    run: (v) => T.adaptiveAvgPool2d(v.x, [3, 2]),
  },
  {
    name: "dropout seeded",
    inputs: { x: g([64, 32]) },
    expr: "F.dropout(x, 0.5, True)",
    run: (v) => T.dropout(v.x, 0.5, true),
    seed: 7,
  },
  {
    name: "dropout eval",
    inputs: { x: g([8, 4]) },
    expr: "F.dropout(x, 0.5, False)",
    run: (v) => T.dropout(v.x, 0.5, false),
  },
  {
    name: "crossEntropy",
    inputs: { x: g([5, 7]), y: { shape: [5], dtype: "int64", gen: { int: [0, 7] } } },
    expr: "F.cross_entropy(x, y)",
    run: (v) => T.crossEntropy(v.x, v.y),
  },
  {
    name: "crossEntropy sum",
    inputs: { x: g([5, 7]), y: { shape: [5], dtype: "int64", gen: { int: [0, 7] } } },
    expr: "F.cross_entropy(x, y, reduction='sum')",
    run: (v) => T.crossEntropy(v.x, v.y, { reduction: "sum" }),
  },
  {
    name: "crossEntropy soft",
    inputs: { x: g([4, 6]), p: { shape: [4, 6], gen: "positive" } },
    expr: "F.cross_entropy(x, p)",
    run: (v) => T.crossEntropy(v.x, v.p),
  },
  {
    name: "nllLoss",
    inputs: { x: g([5, 7]), y: { shape: [5], dtype: "int64", gen: { int: [0, 7] } } },
    expr: "F.nll_loss(x.log_softmax(1), y)",
    run: (v) => T.nllLoss(v.x.logSoftmax(1), v.y),
  },
  {
    name: "normalize",
    inputs: { x: g([4, 6]) },
    expr: "F.normalize(x, dim=1)",
    run: (v) => T.normalize(v.x, { dim: 1 }),
  },
  {
    name: "interpolate bilinear",
    inputs: { x: g([1, 2, 5, 4]) },
    expr: "F.interpolate(x, size=(8, 6), mode='bilinear', align_corners=False)",
    run: (v) => T.interpolate(v.x, [8, 6], { mode: "bilinear" }),
  },
  {
    name: "interpolate bicubic",
    inputs: { x: g([1, 2, 5, 4]) },
    expr: "F.interpolate(x, size=(3, 7), mode='bicubic', align_corners=False)",
    run: (v) => T.interpolate(v.x, [3, 7], { mode: "bicubic" }),
  },
];

for (const [family, cases] of Object.entries({ MATH, REDUCE, LINALG, INDEXING, NN })) {
  oracleTest(
    `ops agree with PyTorch: ${family.toLowerCase()} (${cases.length} cases)`,
    async () => {
      const failures = await runOpCases(cases, family.length * 101);
      assert.deepStrictEqual(failures, []);
    },
  );
}
