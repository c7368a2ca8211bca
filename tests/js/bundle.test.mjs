// The committed bundles in conv_lib/course/static/ must be exactly what build.mjs makes from src/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const build = await import("../../conv_lib/course/static/build.mjs");
let esbuild = null;
let reason = "";
try {
  esbuild = await build.loadEsbuild();
} catch (err) {
  reason = err.message;
}

for (const name of build.WIDGETS) {
  test(`${name}.mjs is up to date with src/ (node conv_lib/course/static/build.mjs)`, { skip: esbuild ? false : reason }, async () => {
    const committed = readFileSync(fileURLToPath(new URL(`../../conv_lib/course/static/${name}.mjs`, import.meta.url)), "utf8");
    assert.equal(committed, await build.bundle(name, esbuild), `rebuild with: node conv_lib/course/static/build.mjs`);
  });
  test(`${name}.mjs is self-contained (MyST copies only this one file)`, () => {
    const text = readFileSync(fileURLToPath(new URL(`../../conv_lib/course/static/${name}.mjs`, import.meta.url)), "utf8");
    assert.doesNotMatch(text, /^\s*import\s|\bimport\(|from\s+["']\.{1,2}\//m, "no imports left in the bundle");
    assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "no network addresses (no CDN)");
  });
}
