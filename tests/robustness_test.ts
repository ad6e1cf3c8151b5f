// At least 200 invalid calls (wrong shapes, dtypes, devices, freed or null handles, out-of-range
// indices) each raise TorchError, and the process survives them all.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { lib } from "../src/ffi/library.ts";
import { handleOf } from "../src/tensor/tensor.ts";

type Bad = [string, () => unknown];

function badCalls(): Bad[] {
  const a = T.randn([2, 3]);
  const b = T.randn([4, 5]);
  const img = T.randn([1, 3, 8, 8]);
  const idx = T.tensor(BigInt64Array.from([0n, 5n]));
  const neg = T.tensor(BigInt64Array.from([-7n]));
  const fidx = T.tensor(new Float32Array([0, 1]));
  const freed = T.ones([2]);
  freed.dispose();
  const calls: Bad[] = [
    ["mm shapes", () => a.mm(b)],
    ["matmul shapes", () => a.matmul(b)],
    ["add broadcast", () => a.add(b)],
    ["mul broadcast", () => a.mul(b)],
    ["cat shapes", () => T.cat([a, b], 0)],
    ["stack shapes", () => T.stack([a, b])],
    ["cat empty", () => T.cat([])],
    ["view numel", () => a.view([7])],
    ["reshape numel", () => a.reshape([4, 4])],
    ["reshape two -1", () => a.reshape([-1, -1])],
    ["permute rank", () => a.permute([0])],
    ["transpose dim", () => a.transpose(0, 5)],
    ["select range", () => a.select(0, 9)],
    ["squeeze dim", () => a.squeeze(7)],
    ["unsqueeze dim", () => a.unsqueeze(9)],
    ["flatten dims", () => a.flatten(3, 4)],
    ["slice step", () => a.slice(0, 0, 2, 0)],
    ["slice dim", () => a.slice(5, 0, 1)],
    ["expand shape", () => a.expand([3, 3])],
    ["repeat rank", () => a.repeat([2])],
    ["flip dim", () => a.flip([4])],
    ["indexSelect range", () => a.indexSelect(0, idx)],
    ["indexSelect negative", () => a.indexSelect(0, neg)],
    ["indexSelect float index", () => a.indexSelect(0, fidx)],
    ["indexSelect dim", () => a.indexSelect(3, idx)],
    ["gather index", () => a.gather(1, T.tensor(BigInt64Array.from([9n, 9n]), { shape: [2, 1] }))],
    ["gather rank", () => a.gather(1, idx)],
    [
      "scatter index",
      () => a.scatter(1, T.tensor(BigInt64Array.from([8n, 8n]), { shape: [2, 1] }), 1),
    ],
    ["indexCopy shape", () => a.indexCopy(0, T.tensor(BigInt64Array.from([0n])), b)],
    ["maskedFill mask dtype", () => a.maskedFill(a, 1)],
    ["maskedSelect shape", () => a.maskedSelect(T.ones([5], { dtype: "bool" }))],
    ["where shapes", () => T.where(T.ones([5], { dtype: "bool" }), a, b)],
    ["topk k", () => a.topk(9)],
    ["topk dim", () => a.topk(1, { dim: 4 })],
    ["sort dim", () => a.sort(5)],
    ["sum dim", () => a.sum(4)],
    ["mean int", () => T.ones([3], { dtype: "int64" }).mean()],
    ["argmax dim", () => a.argmax(3)],
    ["norm dim", () => a.norm(2, 7)],
    ["softmax dim", () => a.softmax(4)],
    ["logSoftmax dim", () => a.logSoftmax(-4)],
    ["cumsum dim", () => a.cumsum(3)],
    ["item numel", () => a.item()],
    ["t rank", () => img.t()],
    ["size dim", () => a.size(5)],
    ["conv2d rank", () => T.conv2d(a, T.randn([2, 3, 1, 1]))],
    ["conv2d channels", () => T.conv2d(img, T.randn([4, 5, 3, 3]))],
    ["conv2d groups", () => T.conv2d(img, T.randn([4, 1, 3, 3]), null, { groups: 2 })],
    ["conv2d bias", () => T.conv2d(img, T.randn([4, 3, 3, 3]), T.randn([5]))],
    ["conv2d kernel too big", () => T.conv2d(img, T.randn([4, 3, 11, 11]))],
    ["conv2d stride 0", () => T.conv2d(img, T.randn([4, 3, 3, 3]), null, { stride: 0 })],
    ["conv2d non-integer", () => T.conv2d(img, T.randn([4, 3, 3, 3]), null, { stride: 1.5 })],
    ["batchNorm channels", () => T.batchNorm(img, T.zeros([5]), T.ones([5]))],
    [
      "batchNorm one value",
      () => T.batchNorm(T.randn([1, 3]), T.zeros([3]), T.ones([3]), { training: true }),
    ],
    ["linear shapes", () => T.linear(a, T.randn([4, 7]))],
    ["linear bias", () => T.linear(a, T.randn([4, 3]), T.randn([9]))],
    ["maxPool2d rank", () => T.maxPool2d(a, 2)],
    ["maxPool2d kernel", () => T.maxPool2d(img, 20)],
    ["maxPool2d padding", () => T.maxPool2d(img, 2, { padding: 3 })],
    ["avgPool2d rank", () => T.avgPool2d(a, 2)],
    ["avgPool2d kernel", () => T.avgPool2d(img, 20)],
    ["adaptive rank", () => T.adaptiveAvgPool2d(a, 1)],
    ["dropout p", () => T.dropout(a, 1.5)],
    ["dropout negative p", () => T.dropout(a, -0.1)],
    ["crossEntropy target dtype", () => T.crossEntropy(a, T.tensor(new Float32Array([0, 1])))],
    ["crossEntropy class range", () => T.crossEntropy(a, T.tensor(BigInt64Array.from([0n, 7n])))],
    ["crossEntropy batch", () => T.crossEntropy(a, T.tensor(BigInt64Array.from([0n])))],
    ["nllLoss range", () => T.nllLoss(a, T.tensor(BigInt64Array.from([0n, 3n])))],
    ["normalize dim", () => T.normalize(a, { dim: 4 })],
    ["interpolate rank", () => T.interpolate(a, [4, 4])],
    ["exemplarMemory shapes", () => T.exemplarMemory(a, idx, T.zeros([4, 5]), 0.1)],
    ["exemplarMemory index", () => T.exemplarMemory(a, idx, T.zeros([4, 3]), 0.1)],
    ["exemplarMemory index dtype", () => T.exemplarMemory(a, fidx, T.zeros([8, 3]), 0.1)],
    [
      "exemplarMemory alpha",
      () => T.exemplarMemory(a, T.tensor(BigInt64Array.from([0n, 1n])), T.zeros([8, 3]), -1),
    ],
    ["backward non-scalar", () => a.add(1).backward()],
    ["backward no grad", () => a.sum().backward()],
    ["setRequiresGrad int", () => T.ones([2], { dtype: "int64" }).setRequiresGrad()],
    ["setRequiresGrad bool", () => T.ones([2], { dtype: "bool" }).setRequiresGrad()],
    ["setGrad shape", () => T.ones([2], { requiresGrad: true }).setGrad(T.ones([3]))],
    ["tensor shape/data", () => T.tensor(new Float32Array(5), { shape: [2, 2] })],
    ["tensor bad dim", () => T.tensor(new Float32Array(4), { shape: [2, 2.5] })],
    ["zeros negative", () => T.zeros([-1, 2])],
    ["zeros non-integer", () => T.zeros([1.5])],
    ["rand bad range", () => T.rand([2], { low: 1, high: 0 })],
    ["randn negative std", () => T.randn([2], { std: -1 })],
    ["randint empty range", () => T.randint(5, 5, [2])],
    ["randperm negative", () => T.randperm(-1)],
    ["arange zero step", () => T.arange(5, { step: 0 })],
    ["to cuda without cuda", () => a.to("cuda:0")],
    ["cuda()", () => a.cuda(3)],
    ["bad device name", () => a.to("tpu")],
    ["sync cuda", () => T.cudaSynchronize(0)],
    ["oneHot range", () => T.oneHot(T.tensor(BigInt64Array.from([5n])), 3)],
    ["addmm shapes", () => T.addmm(T.zeros([2]), a, b)],
    ["setNumThreads 0", () => T.setNumThreads(0)],
    ["setRngState wrong tensor", () => T.setRngState(a)],
    ["pow dtype", () => T.ones([2], { dtype: "bool" }).pow(T.ones([2], { dtype: "bool" }))],
    [
      "logicalAnd shape",
      () => T.ones([2], { dtype: "bool" }).logicalAnd(T.ones([3], { dtype: "bool" })),
    ],
    ["copy_ shape", () => a.copy_(b)],
    ["indexCopy_ shape", () => a.indexCopy_(0, idx, b)],
    [
      "sgdStep nesterov without momentum",
      () => T.sgdStep([a], [undefined], { lr: 0.1, nesterov: true }),
    ],
    ["sgdStep slots", () => T.sgdStep([a], [], { lr: 0.1 })],
  ];
  // Every op on a freed tensor.
  const onFreed: Array<[string, (t: T.Tensor) => unknown]> = [
    ["add", (t) => t.add(1)],
    ["mm", (t) => t.mm(a)],
    ["sum", (t) => t.sum()],
    ["shape", (t) => t.shape],
    ["dtype", (t) => t.dtype],
    ["toArray", (t) => t.toArray()],
    ["item", (t) => t.item()],
    ["backward", (t) => t.backward()],
    ["grad", (t) => t.grad],
    ["reshape", (t) => t.reshape([2])],
    ["to", (t) => t.to({ dtype: "float64" })],
    ["clone", (t) => t.clone()],
    ["relu", (t) => t.relu()],
    ["conv2d", (t) => T.conv2d(t, t)],
    ["cat", (t) => T.cat([a, t])],
    ["linear", (t) => T.linear(a, t)],
    ["exemplarMemory", (t) => T.exemplarMemory(a, idx, t, 0.1)],
    ["as other", (t) => a.add(t)],
    ["sgdStep", (t) => T.sgdStep([t], [undefined], { lr: 1 })],
    ["setRequiresGrad", (t) => t.setRequiresGrad()],
  ];
  for (const [n, f] of onFreed) calls.push([`freed: ${n}`, () => f(freed)]);
  // Raw null handles straight into the shim must be refused there too.
  const raw: Array<[string, () => unknown]> = [
    ["null add", () => lib().ts_binary(0, null, null)],
    ["null unary", () => lib().ts_unary(0, null)],
    ["null reshape", () => lib().ts_reshape(null, new BigInt64Array(1), 1)],
    ["null conv", () => lib().ts_conv2d(null, null, null, new BigInt64Array(7))],
    ["null backward", () => lib().ts_backward(null, null, 0)],
    ["null copy_to_buffer", () => lib().ts_copy_to_buffer(null, new Uint8Array(4), 4n)],
    ["unknown binary op", () => lib().ts_binary(99, handleOf(a), handleOf(a))],
    ["unknown unary op", () => lib().ts_unary(99, handleOf(a))],
    ["unknown reduce op", () => lib().ts_reduce(99, handleOf(a), new BigInt64Array(1), 0, 0)],
    ["bad dtype code", () => lib().ts_full(new BigInt64Array(1), 1, 0, 42, 0, 0)],
    ["bad device code", () => lib().ts_full(new BigInt64Array(1), 1, 0, 6, 7, 0)],
    ["bad rank", () => lib().ts_full(new BigInt64Array(1), 99, 0, 6, 0, 0)],
    ["buffer size", () => lib().ts_copy_to_buffer(handleOf(a), new Uint8Array(3), 3n)],
    [
      "from_data size",
      () => lib().ts_from_data(new Uint8Array(3), 3n, new BigInt64Array([2n]), 1, 6, 0, 0),
    ],
    ["cat null list", () => lib().ts_cat(null, 2, 0n)],
  ];
  for (const [n, f] of raw) {
    calls.push([`raw: ${n}`, () => {
      const r = f();
      if (r === null || (typeof r === "number" && r < 0)) {
        throw new T.TorchError(n, lib() && "refused by the shim");
      }
      return r;
    }]);
  }
  return calls;
}

Deno.test("invalid calls raise TorchError and the process survives", () => {
  T.scope(() => {
    const base = badCalls();
    // The same families again with other shapes and dtypes, to pass well over 200 calls.
    const calls: Bad[] = [...base];
    for (const [rows, cols] of [[3, 2], [5, 1], [1, 7]]) {
      const x = T.randn([rows, cols]);
      const y = T.randn([cols + 1, rows + 2]);
      calls.push(
        [`mm ${rows}x${cols}`, () => x.mm(y)],
        [`add ${rows}x${cols}`, () => x.add(y)],
        [`view ${rows}x${cols}`, () => x.view([rows * cols + 1])],
        [`select ${rows}x${cols}`, () => x.select(1, cols)],
        [
          `indexSelect ${rows}x${cols}`,
          () => x.indexSelect(0, T.tensor(BigInt64Array.from([BigInt(rows)]))),
        ],
        [`conv ${rows}x${cols}`, () => T.conv2d(x, y)],
        [`linear ${rows}x${cols}`, () => T.linear(x, y)],
        [
          `crossEntropy ${rows}x${cols}`,
          () => T.crossEntropy(x, T.tensor(BigInt64Array.from([BigInt(cols)]))),
        ],
        [`topk ${rows}x${cols}`, () => x.topk(cols + 1)],
        [`cat ${rows}x${cols}`, () => T.cat([x, y], 0)],
        [`item ${rows}x${cols}`, () => y.item()],
        [`maxPool ${rows}x${cols}`, () => T.maxPool2d(x, 2)],
        [`batchNorm ${rows}x${cols}`, () => T.batchNorm(y, T.zeros([rows]), T.ones([rows]))],
        [
          `gather ${rows}x${cols}`,
          () => x.gather(0, T.tensor(BigInt64Array.from([99n]), { shape: [1, 1] })),
        ],
        [`normalize ${rows}x${cols}`, () => T.normalize(x, { dim: 3 })],
        [`expand ${rows}x${cols}`, () => x.expand([rows + 1, cols + 1])],
        [`transpose ${rows}x${cols}`, () => x.transpose(0, 2)],
        [`slice ${rows}x${cols}`, () => x.slice(2, 0, 1)],
        [`sum ${rows}x${cols}`, () => x.sum(2)],
        [`softmax ${rows}x${cols}`, () => x.softmax(2)],
        [`reshape ${rows}x${cols}`, () => x.reshape([rows * cols + 2])],
        [`to bad dtype ${rows}x${cols}`, () => x.to({ dtype: "complex" as T.DType })],
        [
          `scatter ${rows}x${cols}`,
          () => x.scatter(0, T.tensor(BigInt64Array.from([50n]), { shape: [1, 1] }), 0),
        ],
        [`indexCopy ${rows}x${cols}`, () => x.indexCopy(0, T.tensor(BigInt64Array.from([0n])), y)],
        [
          `exemplar ${rows}x${cols}`,
          () => T.exemplarMemory(x, T.tensor(BigInt64Array.from([0n])), y, 0.1),
        ],
      );
    }
    assert.ok(calls.length >= 200, `only ${calls.length} invalid calls`);
    const notRaised: string[] = [];
    for (const [name, f] of calls) {
      try {
        f();
        notRaised.push(`${name}: no error`);
      } catch (e) {
        if (!(e instanceof T.TorchError)) {
          notRaised.push(`${name}: ${(e as Error).name}: ${(e as Error).message}`);
        }
      }
    }
    assert.deepStrictEqual(notRaised, []);
    // Still alive and computing.
    const ok = T.ones([2, 2]).mm(T.ones([2, 2]));
    assert.deepStrictEqual(ok.toNumbers(), [2, 2, 2, 2]);
    console.log(`${calls.length} invalid calls, each raised TorchError`);
  });
});
