// c10d collectives over Gloo on loopback between real processes: all-reduce (bucketed, averaged),
// broadcast, all-gather with unequal first dimensions, and a dead peer failing the survivor within
// the timeout with a message naming the rank. Each case starts child processes running this file.
import "./native.ts";
import assert from "node:assert";
import { distAvailable, ProcessGroup } from "../src/dist/group.ts";
import { tensor } from "../src/tensor/mod.ts";
import { freePort, runRanks } from "./dist_util.ts";

const { available, reason } = distAvailable();
if (!available) console.log(`dist_group_test: skipped: ${reason}`);

function worker(kind: string): void {
  const rank = Number(Deno.env.get("RANK"));
  const world = Number(Deno.env.get("WORLD_SIZE"));
  const pg = ProcessGroup.init({
    rank,
    worldSize: world,
    masterAddr: "127.0.0.1",
    masterPort: Number(Deno.env.get("MASTER_PORT")),
    timeoutSeconds: Number(Deno.env.get("ECN_DIST_TEST_TIMEOUT") ?? 20),
  });
  const out: Record<string, unknown> = {};
  if (kind === "collectives") {
    // Three tensors; a 16-byte bucket limit splits them into several all-reduces.
    const a = tensor([1 + rank, 2 + rank, 3 + rank]);
    const b = tensor([[10 * (rank + 1)]]);
    const c = tensor(new Float64Array([rank, -rank]));
    pg.allReduce([a, b, c], { average: true, bucketBytes: 16 });
    out.a = a.toNumbers();
    out.b = b.toNumbers();
    out.c = c.toNumbers();
    const s = tensor([rank + 1]);
    pg.allReduce([s]);
    out.sum = s.toNumbers();
    const w = tensor([rank === 0 ? 7 : -1, rank === 0 ? 8 : -1]);
    pg.broadcast([w], 0);
    out.bcast = w.toNumbers();
    // rank r contributes r + 1 rows of [r, r]
    const g = pg.allGather(tensor(new Float32Array(2 * (rank + 1)).fill(rank), {
      shape: [rank + 1, 2],
    }));
    out.gather = { shape: g.shape, values: g.toNumbers() };
    pg.barrier();
  } else if (kind === "hang" || kind === "stop") {
    const x = tensor([1]);
    pg.allReduce([x]);
    if (rank === 1) {
      if (kind === "stop") Deno.kill(Deno.pid, "SIGSTOP"); // frozen: no heartbeat either
      const until = performance.now() + 30_000; // alive (heartbeat runs) but never collective
      while (performance.now() < until) { /* spin */ }
    }
    const t0 = performance.now();
    try {
      pg.allReduce([x]);
      out.error = null;
    } catch (e) {
      out.error = (e as Error).message;
    }
    out.seconds = (performance.now() - t0) / 1000;
  } else if (kind === "die") {
    const x = tensor([1]);
    pg.allReduce([x]);
    if (rank === Number(Deno.env.get("ECN_DIST_TEST_VICTIM") ?? 1)) Deno.exit(3); // no word
    const t0 = performance.now();
    try {
      pg.allReduce([x]);
      out.error = null;
    } catch (e) {
      out.error = (e as Error).message;
      out.name = (e as Error).name;
      // later calls fail at once with the same message
      try {
        pg.barrier();
      } catch (e2) {
        out.again = (e2 as Error).message === out.error;
      }
    }
    out.seconds = (performance.now() - t0) / 1000;
  }
  console.log("RESULT " + JSON.stringify(out));
  pg.destroy();
}

if (import.meta.main && Deno.env.get("ECN_DIST_TEST_KIND")) {
  worker(Deno.env.get("ECN_DIST_TEST_KIND")!);
}

Deno.test({
  name: "all-reduce (bucketed, averaged), broadcast and all-gather agree across 2 processes",
  ignore: !available,
  async fn() {
    const port = freePort();
    const res = await runRanks(import.meta.url, 2, { ECN_DIST_TEST_KIND: "collectives" }, port);
    for (const r of res) {
      assert.strictEqual(r.code, 0, r.output);
      const o = r.result!;
      assert.deepStrictEqual(o.a, [1.5, 2.5, 3.5]);
      assert.deepStrictEqual(o.b, [15]);
      assert.deepStrictEqual(o.c, [0.5, -0.5]);
      assert.deepStrictEqual(o.sum, [3]);
      assert.deepStrictEqual(o.bcast, [7, 8]);
      assert.deepStrictEqual(o.gather, { shape: [3, 2], values: [0, 0, 1, 1, 1, 1] });
    }
  },
});

Deno.test({
  name: "a peer that dies fails the survivor's collective within the timeout, naming the rank",
  ignore: !available,
  async fn() {
    const port = freePort();
    const res = await runRanks(import.meta.url, 2, { ECN_DIST_TEST_KIND: "die" }, port);
    assert.strictEqual(res[1].code, 3);
    const o = res[0].result!;
    assert.ok(o, res[0].output);
    assert.strictEqual(o.name, "DistError");
    assert.match(
      String(o.error),
      /allreduce #\d+ failed on rank 0 of 2: rank 1 stopped responding/,
    );
    assert.strictEqual(o.again, true, "later calls fail at once with the same message");
    assert.ok((o.seconds as number) < 20, `bounded by the timeout: ${o.seconds} s`);
  },
});

for (
  const [kind, expect] of [
    [
      "hang",
      /failed on rank 0 of 2: rank 1 \(at collective 1\) is alive but has not reached collective 2/,
    ],
    ["stop", /failed on rank 0 of 2: rank 1 stopped responding/],
  ] as const
) {
  Deno.test({
    name: `a peer that ${
      kind === "hang" ? "spins outside the collectives" : "is frozen (SIGSTOP)"
    } fails the collective after the timeout, naming it`,
    ignore: !available,
    async fn() {
      const env = { ECN_DIST_TEST_KIND: kind, ECN_DIST_TEST_TIMEOUT: "3" };
      const res = await runRanks(import.meta.url, 2, env, freePort(), 60, 0);
      const o = res[0].result!;
      assert.ok(o, res[0].output);
      assert.match(String(o.error), expect);
      // the 3 s timeout plus the 2 s heartbeat check, with slack for a loaded machine
      assert.ok(o.seconds >= 3 && o.seconds < 15, `${o.seconds} s`);
    },
  });
}

Deno.test({
  name: "when rank 0 (the store's host) dies, the survivor's message names it",
  ignore: !available,
  async fn() {
    const env = { ECN_DIST_TEST_KIND: "die", ECN_DIST_TEST_VICTIM: "0" };
    const res = await runRanks(import.meta.url, 2, env, freePort());
    assert.strictEqual(res[0].code, 3);
    const o = res[1].result!;
    assert.ok(o, res[1].output);
    assert.match(
      String(o.error),
      /failed on rank 1 of 2: rank 0 \(which hosts the rendezvous store at 127\.0\.0\.1:\d+\) stopped responding/,
    );
    assert.ok((o.seconds as number) < 20, `bounded by the timeout: ${o.seconds} s`);
  },
});
