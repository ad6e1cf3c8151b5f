/**
 * `deno task results RUN_DIR... [--curve] [--seeds] [--json]`: one Markdown table of training runs
 * (the ablation table of a paper): method, source and target, passes over the target,
 * rank-1/5/10, both mAPs, the gain over the source-only run of the same pair, time; with
 * `--seeds`, one row per experiment repeated with several seeds (mean ± standard deviation).
 * Argument parsing only; the work is in src/reid/run_summary.ts.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runsTable, seedGroups, seedsTable, summarizeRun } from "../reid/run_summary.ts";

const USAGE = `usage: deno task results RUN_DIR... [--curve] [--seeds] [--json]
  RUN_DIR   run folders written by deno task train (config.json, log.jsonl, result.json)
  --curve   add rank-1 / mAP after each evaluation of the run (--eval-every)
  --seeds   one row per experiment: finished runs whose settings differ only in --seed (and
            --out, --workers, --eval-every) as mean ± standard deviation, gain of the means
  --json    print the summaries (with --seeds: the groups) as JSON instead of a table`;

/** Runs the command with `args`; returns the exit code. */
export function main(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        curve: { type: "boolean", default: false },
        seeds: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    console.error(`give at least one run folder\n${USAGE}`);
    return 2;
  }
  if (values.seeds && values.curve) {
    console.error(`--curve and --seeds do not go together (a group has no single curve)\n${USAGE}`);
    return 2;
  }
  try {
    const sizes = new Map<string, number>();
    const runs = positionals.map((dir) => summarizeRun(dir, sizes));
    if (values.seeds) {
      const groups = seedGroups(runs);
      if (values.json) {
        const plain = groups.map(({ runs: rs, ...g }) => ({ ...g, runs: rs.map((r) => r.dir) }));
        console.log(JSON.stringify(plain, null, 2));
      } else {
        console.log(seedsTable(groups));
      }
    } else if (values.json) {
      console.log(JSON.stringify(runs.map(({ config: _c, ...r }) => r), null, 2));
    } else {
      console.log(runsTable(runs, { curve: values.curve }));
    }
    return 0;
  } catch (e) {
    console.error(`results: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(main(Deno.args));
