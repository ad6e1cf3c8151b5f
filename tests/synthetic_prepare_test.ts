import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { prepareSynthetic, type SyntheticPrepareEvent } from "../src/data/synthetic/prepare.ts";

Deno.test("prepareSynthetic makes sharpness CamStyle copies once and remakes copies made otherwise", async () => {
  const root = Deno.makeTempDirSync({ prefix: "ecn_prep_" });
  try {
    const events: SyntheticPrepareEvent[] = [];
    const onEvent = (e: SyntheticPrepareEvent) => events.push(e);
    const d = await prepareSynthetic(root, { onEvent });
    assert.deepStrictEqual(events.map((e) => e.kind), ["generated", "camstyle"]);
    const manifest = () => JSON.parse(Deno.readTextFileSync(`${d.camstyle}/camstyle.json`));
    assert.strictEqual(manifest().sharpness, true);
    const marker = `${d.camstyle}/.complete`;
    const settings = Deno.readTextFileSync(marker);
    // Prepared: nothing is redone.
    events.length = 0;
    await prepareSynthetic(root, { onEvent });
    assert.strictEqual(events.length, 0);
    // A folder finished by an older version (empty marker, colour-only copies) is remade.
    Deno.writeTextFileSync(marker, "");
    Deno.writeTextFileSync(`${d.camstyle}/stale_fake_1to2.jpg`, "old copy");
    await prepareSynthetic(root, { onEvent });
    assert.deepStrictEqual(events.map((e) => e.kind), ["camstyle"]);
    assert.ok(!existsSync(`${d.camstyle}/stale_fake_1to2.jpg`), "old copies kept");
    assert.strictEqual(Deno.readTextFileSync(marker), settings);
    assert.strictEqual(manifest().sharpness, true);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
