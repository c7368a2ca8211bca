// The playgrounds' JavaScript must agree EXACTLY with conv_lib. golden.json holds cases computed by
// conv_lib (`python -m tests.golden`); every bundle the book ships is checked against all of them,
// so a bundle built from a stale core cannot pass.
//
//   node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const golden = JSON.parse(readFileSync(new URL("./golden.json", import.meta.url), "utf8"));
const BUNDLES = ["conv_playground", "causal_stack", "rf_growth"];
const modules = Object.fromEntries(await Promise.all(BUNDLES.map(async (name) =>
  [name, await import(new URL(`../../conv_lib/course/static/${name}.mjs`, import.meta.url))])));

/** Run f; return {value} or {kind, axis} of the ConvConfigError it threw (anything else rethrows). */
function attempt(lib, f) {
  try {
    return { value: f() };
  } catch (err) {
    if (!(err instanceof lib.ConvConfigError)) throw err;
    return { kind: err.kind, axis: err.axis };
  }
}

for (const [name, lib] of Object.entries(modules)) {
  test(`${name}: every bundle is an anywidget module exporting the pure functions`, () => {
    assert.equal(typeof lib.default.render, "function");
    for (const fn of ["convOutput", "outputSize", "outputShape", "padIndex", "padSources", "resolvePadding",
      "receptiveField", "receptiveFieldTable", "inputRegion", "stackReach", "effectiveKernelSize"]) {
      assert.equal(typeof lib[fn], "function", fn);
    }
  });

  test(`${name}: 2-D convolution outputs, pads and error kinds (${golden.conv2d.length} cases)`, () => {
    let errors = 0;
    for (const [i, c] of golden.conv2d.entries()) {
      const got = attempt(lib, () => lib.convOutput(c.x, c.w, c.options));
      const where = `case ${i}: ${JSON.stringify(c.options)} x ${c.x.length}x${c.x[0].length} w ${c.w.length}x${c.w[0].length}`;
      if (c.error) {
        errors += 1;
        assert.equal(got.kind, c.error.kind, where);
        if (c.error.axis !== null) assert.equal(got.axis, c.error.axis, where);
      } else {
        assert.equal(got.kind, undefined, `${where}: unexpected ${got.kind}`);
        assert.deepEqual(got.value.output, c.expected.output, where);
        assert.deepEqual(got.value.plan.pads, c.expected.pads, where);
        assert.deepEqual(got.value.plan.outShape, c.expected.shape, where);
      }
    }
    assert.ok(errors > 50 && errors < golden.conv2d.length - 100, "the grid mixes valid and invalid cases");
  });

  test(`${name}: 1-D convolution incl. causal padding (${golden.conv1d.length} cases)`, () => {
    for (const [i, c] of golden.conv1d.entries()) {
      const got = attempt(lib, () => lib.conv1d(c.x, c.w, c.options));
      if (c.error) assert.equal(got.kind, c.error.kind, `case ${i}`);
      else assert.deepEqual(got.value, c.expected, `case ${i}: ${JSON.stringify(c)}`);
    }
  });

  test(`${name}: output_size over every padding form (${golden.output_size.length} cases)`, () => {
    for (const row of golden.output_size) {
      const [n, k, stride, dilation, inputDilation, padding, expected] = row;
      const got = attempt(lib, () => lib.outputSize(n, k, { stride, dilation, inputDilation, padding }));
      if (typeof expected === "string") assert.equal(got.kind, expected, JSON.stringify(row));
      else assert.equal(got.value, expected, JSON.stringify(row));
    }
  });

  test(`${name}: padding sources and limits per mode (${golden.pad.length} cases)`, () => {
    for (const c of golden.pad) {
      const got = attempt(lib, () => { lib.checkPadding(c.n, c.lo, c.hi, c.mode); return lib.padSources(c.n, c.lo, c.hi, c.mode); });
      if (c.error) assert.equal(got.kind, c.error, JSON.stringify(c));
      else assert.deepEqual(got.value, c.sources, JSON.stringify(c));
    }
  });

  test(`${name}: receptive-field recursion, jumps and regions`, () => {
    for (const c of golden.receptive) {
      assert.deepEqual(lib.receptiveFieldTable(c.layers), c.table, c.name);
      assert.equal(lib.receptiveField(c.layers), c.rf, c.name);
      for (const [index, region] of Object.entries(c.regions)) {
        assert.deepEqual(lib.inputRegion(c.layers, Number(index)), region, `${c.name} @ ${index}`);
      }
    }
  });

  test(`${name}: dilated stacks — padding, cone and path counts measured by conv_lib`, () => {
    for (const c of golden.stacks) {
      const label = `n=${c.n} k=${c.k} d=${c.dilations} causal=${c.causal}`;
      assert.deepEqual(c.dilations.map((d) => lib.stackPadding(c.k, d, c.causal)), c.pads, label);
      const layers = c.dilations.map((d, i) => [c.k, 1, d, c.pads[i][0]]);
      assert.equal(lib.receptiveField(layers), c.rf, label);
      for (const [t, perLevel] of Object.entries(c.counts)) {
        const reach = lib.stackReach(c.n, c.k, c.dilations, c.causal, Number(t));
        assert.deepEqual(reach.counts, perLevel, `${label} output ${t}`);
        assert.deepEqual(lib.inputRegion(layers, Number(t)), c.regions[t], `${label} output ${t}`);
        // the cone inside the sequence is the region clipped to [0, n)
        const [start, stop] = c.regions[t];
        const clipped = [];
        for (let p = Math.max(start, 0); p < Math.min(stop, c.n); p += 1) if (perLevel[0][p]) clipped.push(p);
        assert.deepEqual(reach.levels[0], clipped, `${label} output ${t}`);
      }
    }
  });

  test(`${name}: demo data and control ranges match conv_lib.course.widgets`, () => {
    for (const c of golden.demo.inputs) assert.deepEqual(lib.demoInput(...c.shape), c.x);
    for (const c of golden.demo.kernels) assert.deepEqual(lib.demoKernel(c.name, ...c.shape), c.w, `${c.name} ${c.shape}`);
    assert.deepEqual(JSON.parse(JSON.stringify(lib.LIMITS)), golden.limits);
    assert.deepEqual([...lib.KERNEL_NAMES], golden.kernel_names);
    assert.deepEqual([...lib.SCHEDULES], golden.schedules);
  });
}
