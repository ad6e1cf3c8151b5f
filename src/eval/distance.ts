/**
 * Query-gallery distances computed with libtorch in blocks of query rows, so large problems
 * (MSMT17: 11,659 x 82,161) never hold the whole matrix.
 *
 * @module
 */
import { addmm, noGrad, scope, type Tensor, tensor, TorchError } from "../tensor/mod.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** Distance between feature vectors: squared Euclidean (the reference's) or 1 − cosine. */
export type Metric = "euclidean" | "cosine";

/** Options of {@link distanceBlocks}. */
export interface DistanceOptions {
  /** Distance to compute (default "euclidean", squared). */
  metric?: Metric;
  /** Query rows per block (default 1,024). */
  chunk?: number;
  /** Where to compute (default cpu). */
  device?: DeviceLike;
}

function asMatrix(x: Float32Array, dim: number, name: string, device?: DeviceLike): Tensor {
  if (!Number.isInteger(dim) || dim < 1 || x.length % dim !== 0) {
    throw new TorchError(
      "distance",
      `${name} has ${x.length} values, not a multiple of dim ${dim}`,
    );
  }
  if (x.length === 0) throw new TorchError("distance", `${name} is empty`);
  return tensor(x, { shape: [x.length / dim, dim], device });
}

/**
 * Calls `onBlock(start, rows, dist)` for consecutive blocks of query rows, `dist` being the
 * rows x numGallery distances (row-major). Squared Euclidean: ‖q‖² + ‖g‖² − 2 q·g; cosine:
 * 1 − q·g / (‖q‖‖g‖).
 */
export function distanceBlocks(
  query: Float32Array,
  gallery: Float32Array,
  dim: number,
  onBlock: (start: number, rows: number, dist: Float32Array) => void,
  opts: DistanceOptions = {},
): void {
  const metric = opts.metric ?? "euclidean";
  if (metric !== "euclidean" && metric !== "cosine") {
    throw new TorchError("distance", `metric must be "euclidean" or "cosine", got "${metric}"`);
  }
  const chunk = opts.chunk ?? 1024;
  noGrad(() =>
    scope(() => {
      const g = asMatrix(gallery, dim, "gallery features", opts.device);
      const q = asMatrix(query, dim, "query features", opts.device);
      const numQuery = q.shape[0];
      const gt = metric === "cosine" ? g.div(g.norm(2, 1, true).clamp(1e-12)).t() : g.t();
      const gSq = metric === "euclidean" ? g.square().sum(1).unsqueeze(0) : null;
      for (let start = 0; start < numQuery; start += chunk) {
        const rows = Math.min(chunk, numQuery - start);
        const dist = scope(() => {
          let qb = q.narrow(0, start, rows);
          if (metric === "cosine") {
            qb = qb.div(qb.norm(2, 1, true).clamp(1e-12));
            return qb.mm(gt).rsub(1).toArray();
          }
          const qSq = qb.square().sum(1, true);
          return addmm(qSq.add(gSq!), qb, gt, 1, -2).toArray();
        }) as Float32Array;
        onBlock(start, rows, dist);
      }
    })
  );
}

/** The whole numQuery x numGallery distance matrix (small problems, re-ranking). */
export function distanceMatrix(
  a: Float32Array,
  b: Float32Array,
  dim: number,
  opts: DistanceOptions = {},
): Float32Array {
  const na = a.length / dim, nb = b.length / dim;
  const out = new Float32Array(na * nb);
  distanceBlocks(a, b, dim, (start, _rows, d) => out.set(d, start * nb), opts);
  return out;
}
