// The view logic that turns a model (synced traits, or the JSON body of a MyST {anywidget} block)
// into what is drawn — no DOM needed. The drawing itself is tested in a real browser by
// tests/test_playground_browser.py.
import { test } from "node:test";
import assert from "node:assert/strict";

const conv = await import("../../conv_lib/course/static/conv_playground.mjs");
const stack = await import("../../conv_lib/course/static/causal_stack.mjs");
const rf = await import("../../conv_lib/course/static/rf_growth.mjs");
const getter = (obj) => (key) => (obj[key] === undefined ? conv.DEFAULTS[key] : obj[key]);

test("playground: the shorthands of the directive body become per-axis settings", () => {
  const st = conv.readSettings(getter({ stride: 2, padding: 1, input_size: [4, 6] }));
  assert.deepEqual(st.stride, [2, 2]);
  assert.deepEqual(st.input, [4, 6]);
  assert.deepEqual(st.pads, [[1, 1], [1, 1]]);
  assert.deepEqual(conv.readSettings(getter({ padding: [2, 0] })).pads, [[2, 2], [0, 0]]);
  assert.deepEqual(conv.readSettings(getter({ padding: [[0, 1], [2, 3]] })).pads, [[0, 1], [2, 3]]);
});

test("playground: 'same' with an even kernel puts the odd unit of padding at the end", () => {
  const st = conv.readSettings(getter({ padding: "same", kernel_size: 4 }));
  assert.deepEqual(st.pads, [[1, 2], [1, 2]]);
  const a = conv.analyze(st);
  assert.deepEqual(a.result.plan.outShape, [5, 5]);
});

test("playground: a padding string with input dilation is explained, not thrown", () => {
  const st = conv.readSettings(getter({ padding: "same", input_dilation: 2 }));
  assert.match(st.paddingNote, /input dilation/);
  const a = conv.analyze(st);
  assert.equal(a.problems[0].kind, "bad_padding");
});

test("playground: out-of-range values from a hand-written body are clamped to the controls", () => {
  const st = conv.readSettings(getter({ stride: 99, input_size: 0, padding: 40 }));
  assert.deepEqual(st.stride, [4, 4]);
  assert.deepEqual(st.input, [1, 1]);
  assert.deepEqual(st.pads, [[6, 6], [6, 6]]);
});

test("playground: every problem is reported at once, per axis, and no output is drawn", () => {
  const st = conv.readSettings(getter({ input_size: [3, 5], kernel_size: 5, padding: [[0, 0], [5, 0]], padding_mode: "reflect" }));
  const a = conv.analyze(st);
  assert.deepEqual(a.problems.map((p) => [p.kind, p.axis]), [["kernel_too_large", 0], ["reflect_pad_too_large", 1]]);
  assert.equal(a.result, null);
  assert.deepEqual(a.padOk, [true, false]);
  assert.match(a.problems[0].message, /effective size is d\(k−1\)\+1 = 1·\(5−1\)\+1 = 5/);
  // the grid is still drawn (zero-padded), so the reader sees where the kernel would go
  assert.equal(a.grid.length, 3);
  assert.equal(a.grid[0].length, 10);
});

test("playground: circular padding may wrap once, not twice", () => {
  const ok = conv.analyze(conv.readSettings(getter({ input_size: 3, padding: 3, padding_mode: "circular", kernel_size: 1 })));
  assert.equal(ok.problems.length, 0);
  const bad = conv.analyze(conv.readSettings(getter({ input_size: 3, padding: 4, padding_mode: "circular", kernel_size: 1 })));
  assert.deepEqual(bad.problems.map((p) => p.kind), ["circular_pad_too_large", "circular_pad_too_large"]);
});

test("playground: padded cells remember where they were copied from", () => {
  const a = conv.analyze(conv.readSettings(getter({ input_size: 3, padding: 1, padding_mode: "reflect" })));
  assert.deepEqual(a.grid[0][0], { value: 5, kind: "pad", src: [1, 1] });   // x[1, 1] = 5
  const holes = conv.analyze(conv.readSettings(getter({ input_size: 2, input_dilation: 3 })));
  assert.deepEqual(holes.grid[0].map((c) => c.kind), ["input", "hole", "hole", "input"]);
});

test("stack explorer: defaults, schedules and the custom-list parser", () => {
  const st = stack.readStack((k) => stack.DEFAULTS[k]);
  assert.deepEqual(st.dilations, [1, 2, 4, 8]);
  assert.equal(st.index, 31);
  assert.equal(stack.analyzeStack(st).rf, 16);
  const constant = stack.readStack((k) => ({ ...stack.DEFAULTS, schedule: "constant", dilation: 3, layers: 3 })[k]);
  assert.deepEqual(constant.dilations, [3, 3, 3]);
  const custom = stack.readStack((k) => ({ ...stack.DEFAULTS, schedule: "custom", dilations: [1, 5], layers: 4 })[k]);
  assert.deepEqual(custom.dilations, [1, 5, 5, 5]);
  assert.deepEqual(stack.parseDilations("1, 2;4 8"), { values: [1, 2, 4, 8] });
  assert.match(stack.parseDilations("1, x").error, /“x”/);
  assert.match(stack.parseDilations("0").error, /from 1 to 64/);
});

test("stack explorer: a centred stack looks ahead, a causal one never does", () => {
  for (const causal of [true, false]) {
    const st = stack.readStack((k) => ({ ...stack.DEFAULTS, causal, output_index: 10 })[k]);
    const [, stop] = stack.analyzeStack(st).region;
    if (causal) assert.equal(stop, 11); else assert.ok(stop > 11);
  }
});

test("rf growth: map sizes, the first layer that does not fit, and clamped selection", () => {
  const layers = rf.normalizeLayers([{ type: "conv", k: 3, s: 2, p: 0 }, { type: "pool", k: 2, s: 2, d: 3 }, { k: 7, p: 0 }]);
  assert.equal(layers[1].d, 1, "pooling has no dilation");
  const a = rf.analyzeStackRF(layers, 8, -1, [9, 9]);
  assert.deepEqual(a.sizes, [8, 3, 1]);
  assert.equal(a.errors[0].layer, 3);
  assert.equal(a.sel, 2);
  assert.deepEqual(a.unit, [0, 0]);
  assert.deepEqual(a.regions[0], [[0, 5], [0, 5]]);   // r = 1 + 1·2·1 + 1·1·2
});
