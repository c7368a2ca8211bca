// Pure arithmetic shared by the three playgrounds: no DOM, importable from Node.
//
// Every function mirrors one in conv_lib (Python) and must agree with it exactly; the Node tests in
// tests/js/ compare them against tests/js/golden.json, which `python -m tests.golden` writes from
// conv_lib itself. Errors are ConvConfigError objects whose `kind` names the rule that was broken:
//
//   out_of_range                a size, stride or dilation < 1, or a padding < 0
//   bad_padding_mode            not one of zeros / reflect / replicate / circular
//   bad_padding_string          not one of valid / same / causal / full
//   string_with_input_dilation  a padding string together with input dilation > 1
//   causal_not_1d               'causal' padding on a 2-D input
//   kernel_too_large            effective kernel longer than the dilated, padded input
//   reflect_pad_too_large       reflect padding >= the (dilated) size of that axis
//   circular_pad_too_large      circular padding wraps more than once (pad > size)

export const PADDING_MODES = Object.freeze(["zeros", "reflect", "replicate", "circular"]);
export const PADDING_STRINGS = Object.freeze(["valid", "same", "causal", "full"]);
export const AXIS_NAMES = Object.freeze(["rows", "columns"]);

/** Ranges of every control; conv_lib/widgets.py LIMITS holds the same (checked by the tests). */
export const LIMITS = Object.freeze({
  conv: { input_size: [1, 10], kernel_size: [1, 5], stride: [1, 4], dilation: [1, 4], input_dilation: [1, 3], padding: [0, 6] },
  stack: { layers: [1, 8], kernel_size: [1, 5], dilation: [1, 8], custom_dilation: [1, 64], length: [8, 64] },
  rf: { input_size: [4, 64], layers: [0, 8], kernel: [1, 7], stride: [1, 4], dilation: [1, 4], padding: [0, 6] },
});
export const SCHEDULES = Object.freeze(["doubling", "constant", "custom"]);

export class ConvConfigError extends Error {
  constructor(kind, message, axis = null) {
    super(message);
    this.name = "ConvConfigError";
    this.kind = kind;
    this.axis = axis;
  }
}

function checkInt(name, value, minimum) {
  if (!Number.isInteger(value)) {
    throw new ConvConfigError("out_of_range", `${name} must be a whole number, got ${value}`);
  }
  if (value < minimum) {
    throw new ConvConfigError("out_of_range", `${name} must be at least ${minimum}, got ${value}`);
  }
  return value;
}

/** An int, or one int per axis, as an array of `ndim` ints >= minimum. */
export function perAxis(name, value, ndim, minimum = 1) {
  const values = Array.isArray(value) ? value : Array(ndim).fill(value);
  if (values.length !== ndim) {
    throw new ConvConfigError("out_of_range",
      `${name} needs one value per axis (${ndim}), got ${JSON.stringify(value)}`);
  }
  return values.map((v, i) => checkInt(ndim > 1 ? `${name}[${i}]` : name, v, minimum));
}

/** Span of k taps spaced d apart: d (k - 1) + 1. */
export function effectiveKernelSize(k, dilation = 1) {
  return dilation * (k - 1) + 1;
}

/** Length after putting inputDilation - 1 zeros between neighbouring samples. */
export function dilatedSize(n, inputDilation = 1) {
  return n > 0 ? (n - 1) * inputDilation + 1 : 0;
}

function stringPadding(name, n, k, s, d, ndim) {
  const kEff = effectiveKernelSize(k, d);
  if (name === "valid") return [0, 0];
  if (name === "full") return [kEff - 1, kEff - 1];
  if (name === "causal") {
    if (ndim !== 1) {
      throw new ConvConfigError("causal_not_1d",
        `'causal' padding exists only for 1-D signals; this input has ${ndim} axes`);
    }
    return [kEff - 1, 0];
  }
  // 'same' as in JAX / TensorFlow: ceil(n / s) outputs, the odd unit of padding at the end.
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + kEff - n, 0);
  const lo = Math.floor(total / 2);
  return [lo, total - lo];
}

/**
 * Every padding form -> one [lo, hi] pair per axis (conv_lib.resolve_padding).
 * padding: int | [int per axis] | [[lo, hi] per axis] | 'valid' | 'same' | 'causal' | 'full'.
 */
export function resolvePadding(padding, inSizes, kernelSizes,
  { stride = 1, dilation = 1, inputDilation = 1 } = {}) {
  const ndim = kernelSizes.length;
  const s = perAxis("stride", stride, ndim);
  const d = perAxis("dilation", dilation, ndim);
  const di = perAxis("input dilation", inputDilation, ndim);
  if (typeof padding === "string") {
    const name = padding.toLowerCase();
    if (!PADDING_STRINGS.includes(name)) {
      throw new ConvConfigError("bad_padding_string",
        `padding '${padding}' is not one of ${PADDING_STRINGS.join(", ")}`);
    }
    if (di.some((f) => f > 1)) {
      throw new ConvConfigError("string_with_input_dilation",
        `padding '${padding}' cannot be combined with input dilation ${di.join("×")}: ` +
        "give the number of padded samples on each side instead");
    }
    return inSizes.map((n, i) => stringPadding(name, n, kernelSizes[i], s[i], d[i], ndim));
  }
  if (Number.isInteger(padding)) {
    checkInt("padding", padding, 0);
    return Array.from({ length: ndim }, () => [padding, padding]);
  }
  if (Array.isArray(padding) && padding.length === ndim) {
    return padding.map((p, i) => {
      if (Number.isInteger(p)) return [checkInt(`padding[${i}]`, p, 0), checkInt(`padding[${i}]`, p, 0)];
      if (Array.isArray(p) && p.length === 2) {
        return [checkInt(`padding[${i}] before`, p[0], 0), checkInt(`padding[${i}] after`, p[1], 0)];
      }
      throw new ConvConfigError("out_of_range", `padding[${i}] must be an int or a [lo, hi] pair`);
    });
  }
  throw new ConvConfigError("out_of_range", `padding ${JSON.stringify(padding)} is not understood`);
}

/** The pieces of the output-size formula for one axis, valid or not. */
export function sizeTerms(n, k, s, d, di, lo, hi) {
  const nDil = dilatedSize(n, di);
  const kEff = effectiveKernelSize(k, d);
  const nPad = nDil + lo + hi;
  const room = nPad - kEff;
  return { n, k, s, d, di, lo, hi, nDil, kEff, nPad, room, out: room >= 0 ? Math.floor(room / s) + 1 : null };
}

/** The error for an axis whose kernel does not fit (t from sizeTerms). */
export function kernelTooLarge(t, axis, ndim) {
  const where = ndim > 1 ? ` along the ${AXIS_NAMES[axis]}` : "";
  return new ConvConfigError("kernel_too_large",
    `The kernel does not fit${where}: its effective size is d(k−1)+1 = ${t.d}·(${t.k}−1)+1 = ${t.kEff}, ` +
    `but the ${t.di > 1 ? "dilated, " : ""}padded input has only ${t.nPad} samples ` +
    `(${t.nDil}${t.di > 1 ? " after input dilation" : ""} + ${t.lo} + ${t.hi} padding). ` +
    `Add ${t.kEff - t.nPad} more padding, or shrink the kernel or its dilation.`, axis);
}

/** Output sizes along every axis (conv_lib.output_shape); throws kernel_too_large. */
export function outputShape(inSizes, kernelSizes,
  { stride = 1, padding = 0, dilation = 1, inputDilation = 1 } = {}) {
  const ndim = kernelSizes.length;
  inSizes.forEach((n, i) => checkInt(`input size[${i}]`, n, 1));
  kernelSizes.forEach((k, i) => checkInt(`kernel size[${i}]`, k, 1));
  const pads = resolvePadding(padding, inSizes, kernelSizes, { stride, dilation, inputDilation });
  const s = perAxis("stride", stride, ndim);
  const d = perAxis("dilation", dilation, ndim);
  const di = perAxis("input dilation", inputDilation, ndim);
  return inSizes.map((n, i) => {
    const t = sizeTerms(n, kernelSizes[i], s[i], d[i], di[i], pads[i][0], pads[i][1]);
    if (t.out === null) throw kernelTooLarge(t, i, ndim);
    return t.out;
  });
}

/** Output length along one axis (conv_lib.output_size); padding int | [lo, hi] | string. */
export function outputSize(n, k, { stride = 1, padding = 0, dilation = 1, inputDilation = 1 } = {}) {
  const pad = Array.isArray(padding) ? [padding] : padding;
  return outputShape([n], [k], { stride, padding: pad, dilation, inputDilation })[0];
}

/**
 * Where position i of an axis of length n reads from once padded (i may be < 0 or >= n), or -1
 * for a zero. The rule of conv_lib.padding.source_index, one index at a time.
 */
export function padIndex(i, n, mode) {
  if (i >= 0 && i < n) return i;
  if (mode === "zeros") return -1;
  if (mode === "replicate") return Math.min(Math.max(i, 0), n - 1);
  if (mode === "circular") return ((i % n) + n) % n;
  if (mode === "reflect") {
    if (n === 1) return 0;
    const period = 2 * (n - 1);
    const j = ((i % period) + period) % period;
    return j < n ? j : period - j;
  }
  throw new ConvConfigError("bad_padding_mode", `padding mode '${mode}' is not one of ${PADDING_MODES.join(", ")}`);
}

/** Sources of all lo + n + hi padded positions of one axis (conv_lib.padding.source_index). */
export function padSources(n, lo, hi, mode) {
  return Array.from({ length: lo + n + hi }, (_, j) => padIndex(j - lo, n, mode));
}

/** Throws if a padding mode cannot produce [lo, hi] on an axis of (dilated) length n. */
export function checkPadding(n, lo, hi, mode, axis = 0, ndim = 1) {
  const where = ndim > 1 ? ` along the ${AXIS_NAMES[axis]}` : "";
  const big = Math.max(lo, hi);
  if (mode === "reflect" && big >= n) {
    throw new ConvConfigError("reflect_pad_too_large",
      `Reflect padding mirrors the signal about its edge sample without repeating it, so it can ` +
      `add at most n−1 = ${n - 1} samples per side${where}; ${big} were asked for.`, axis);
  }
  if (mode === "circular" && big > n) {
    throw new ConvConfigError("circular_pad_too_large",
      `Circular padding may wrap around only once: at most n = ${n} samples per side${where}; ` +
      `${big} were asked for.`, axis);
  }
}

/** Normalise and validate every setting of a 2-D convolution; returns the resolved plan. */
export function planConv2d(inSize, kernelSize, {
  stride = 1, padding = 0, dilation = 1, inputDilation = 1, paddingMode = "zeros",
} = {}) {
  const s = perAxis("stride", stride, 2);
  const d = perAxis("dilation", dilation, 2);
  const di = perAxis("input dilation", inputDilation, 2);
  if (!PADDING_MODES.includes(paddingMode)) padIndex(-1, 1, paddingMode);  // throws bad_padding_mode
  const pads = resolvePadding(padding, inSize, kernelSize, { stride: s, dilation: d, inputDilation: di });
  const outShape = outputShape(inSize, kernelSize, { stride: s, padding: pads, dilation: d, inputDilation: di });
  const dil = inSize.map((n, i) => dilatedSize(n, di[i]));
  pads.forEach(([lo, hi], i) => checkPadding(dil[i], lo, hi, paddingMode, i, 2));
  return { inSize, kernelSize, stride: s, dilation: d, inputDilation: di, pads, outShape, paddingMode, dilatedShape: dil };
}

/**
 * The dilated, padded input as a grid of cells {value, kind, src}:
 *   kind 'input' — sample x[r][c] (src = [r, c]);
 *   kind 'hole'  — a zero inserted by input dilation;
 *   kind 'pad'   — padding; src = [r, c] of the sample it copies, or null for a zero / a hole.
 * The padding rule must already have been checked (checkPadding).
 */
export function paddedGrid(x, pads, inputDilation, mode) {
  const [H, W] = [x.length, x[0].length];
  const [dr, dc] = inputDilation;
  const dil = [dilatedSize(H, dr), dilatedSize(W, dc)];
  const rowSrc = padSources(dil[0], pads[0][0], pads[0][1], mode);
  const colSrc = padSources(dil[1], pads[1][0], pads[1][1], mode);
  return rowSrc.map((sr, pr) => colSrc.map((sc, pc) => {
    const inside = pr >= pads[0][0] && pr < pads[0][0] + dil[0] && pc >= pads[1][0] && pc < pads[1][0] + dil[1];
    const real = sr >= 0 && sc >= 0 && sr % dr === 0 && sc % dc === 0;
    const src = real ? [sr / dr, sc / dc] : null;
    const value = real ? x[sr / dr][sc / dc] : 0;
    return { value, kind: inside ? (real ? "input" : "hole") : "pad", src };
  }));
}

/** Padded-grid coordinates [row, col] read by output (i, j), in kernel order (a, b). */
export function tapPositions(plan, i, j) {
  const [kh, kw] = plan.kernelSize;
  const taps = [];
  for (let a = 0; a < kh; a += 1) {
    for (let b = 0; b < kw; b += 1) {
      taps.push({ a, b, r: i * plan.stride[0] + a * plan.dilation[0], c: j * plan.stride[1] + b * plan.dilation[1] });
    }
  }
  return taps;
}

/**
 * 2-D cross-correlation of one channel, exactly as conv_lib.conv does it (dilate, pad, slide).
 * x: [H][W] numbers, w: [KH][KW] numbers, options as planConv2d. Returns {output, plan, grid}.
 */
export function convOutput(x, w, options = {}) {
  const plan = planConv2d([x.length, x[0].length], [w.length, w[0].length], options);
  const grid = paddedGrid(x, plan.pads, plan.inputDilation, plan.paddingMode);
  const output = Array.from({ length: plan.outShape[0] }, (_, i) => Array.from({ length: plan.outShape[1] }, (_, j) => {
    let total = 0;
    for (const t of tapPositions(plan, i, j)) total += grid[t.r][t.c].value * w[t.a][t.b];
    return total;
  }));
  return { output, plan, grid };
}

/** One channel of 1-D convolution (as 2-D with a single row). */
export function conv1d(x, w, options = {}) {
  const two = (v, fill) => (Array.isArray(v) ? v : [fill, v]);
  const { stride = 1, dilation = 1, inputDilation = 1, padding = 0, paddingMode = "zeros" } = options;
  let pad = padding;
  if (typeof padding === "string") {
    pad = resolvePadding(padding, [x.length], [w.length], { stride, dilation, inputDilation })[0];
  } else if (Number.isInteger(padding)) {
    pad = [padding, padding];
  }
  const { output } = convOutput([x], [w], {
    stride: two(stride, 1), dilation: two(dilation, 1), inputDilation: two(inputDilation, 1),
    padding: [[0, 0], pad], paddingMode,
  });
  return output[0];
}

// ---- Demo data shared with conv_lib/widgets.py (checked by the golden tests) -------------------

/** The playground's input: x[r][c] = r * W + c + 1, so every sample is distinct. */
export function demoInput(h, w) {
  return Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => r * w + c + 1));
}

export const KERNEL_NAMES = Object.freeze(["ones", "ramp", "edge", "center"]);

/** Kernels with small integer weights, so every sum is exact in floating point. */
export function demoKernel(name, kh, kw) {
  return Array.from({ length: kh }, (_, a) => Array.from({ length: kw }, (_, b) => {
    if (name === "ones") return 1;
    if (name === "ramp") return a * kw + b + 1;
    if (name === "edge") return Math.sign(2 * b - (kw - 1));
    if (name === "center") return a === Math.floor((kh - 1) / 2) && b === Math.floor((kw - 1) / 2) ? 1 : 0;
    throw new ConvConfigError("out_of_range", `kernel '${name}' is not one of ${KERNEL_NAMES.join(", ")}`);
  }));
}

// ---- Receptive fields (conv_lib.receptive) ------------------------------------------------------

function normLayer(layer, i) {
  const arr = Array.isArray(layer) ? layer
    : [layer.k ?? layer.kernel, layer.s ?? layer.stride ?? 1, layer.d ?? layer.dilation ?? 1, layer.p ?? layer.padding ?? 0];
  const k = checkInt(`layer ${i + 1} kernel`, arr[0], 1);
  const s = checkInt(`layer ${i + 1} stride`, arr[1] ?? 1, 1);
  const d = checkInt(`layer ${i + 1} dilation`, arr[2] ?? 1, 1);
  const pRaw = arr[3] ?? 0;
  const p = checkInt(`layer ${i + 1} padding`, Array.isArray(pRaw) ? pRaw[0] : pRaw, 0);
  const pHi = checkInt(`layer ${i + 1} padding`, Array.isArray(pRaw) ? pRaw[1] : pRaw, 0);
  return [k, s, d, p, pHi];
}

/**
 * One row per layer: r_l = r_{l-1} + d_l (k_l - 1) j_{l-1},  j_l = j_{l-1} s_l,
 * start_l = start_{l-1} - p_l j_{l-1}. Layers: [k, s, d, p] arrays or {k, s, d, p} objects.
 */
export function receptiveFieldTable(layers) {
  const rows = [];
  let rf = 1; let jump = 1; let start = 0;
  layers.map(normLayer).forEach(([k, s, d, p, pHi], i) => {
    rf += d * (k - 1) * jump;
    start -= p * jump;   // only the left padding moves the region; pHi changes how many outputs exist
    rows.push({ layer: i + 1, kernel: k, stride: s, dilation: d, padding: p, padding_hi: pHi, jump_in: jump, jump: jump * s, rf, start });
    jump *= s;
  });
  return rows;
}

export function receptiveField(layers) {
  const rows = receptiveFieldTable(layers);
  return rows.length ? rows[rows.length - 1].rf : 1;
}

/** [start, stop) of the input samples that output `index` of the last layer depends on. */
export function inputRegion(layers, index) {
  checkInt("index", index, 0);
  const rows = receptiveFieldTable(layers);
  if (!rows.length) return [index, index + 1];
  const { jump, rf, start } = rows[rows.length - 1];
  return [start + index * jump, start + index * jump + rf];
}

// ---- 1-D stacks of stride-1 dilated convolutions (WaveNet / TCN) --------------------------------

/** Dilations of an L-layer stack: 'doubling' 1, 2, 4, ...; 'constant' c; 'custom' the list given. */
export function dilationSchedule(schedule, layers, { constant = 1, custom = [] } = {}) {
  if (schedule === "doubling") return Array.from({ length: layers }, (_, i) => 2 ** i);
  if (schedule === "constant") return Array(layers).fill(constant);
  if (schedule === "custom") {
    return Array.from({ length: layers }, (_, i) => custom[i] ?? custom[custom.length - 1] ?? 1);
  }
  throw new ConvConfigError("out_of_range", `schedule '${schedule}' is not doubling, constant or custom`);
}

/** [lo, hi] padding that keeps the length of a stride-1 layer: causal (all left) or centred ('same'). */
export function stackPadding(k, d, causal) {
  const total = d * (k - 1);
  if (causal) return [total, 0];
  const lo = Math.floor(total / 2);
  return [lo, total - lo];
}

/**
 * Dependency cone of output `index` of a length-preserving stack (zero padding).
 * Returns {levels, counts, edges}: levels[l] = sorted positions of layer l (0 = input) that reach
 * the output; counts[l][t] = number of distinct paths from (l, t) to the output; edges = [l, from, to]
 * with `from` a position in layer l-1 (or a padding position < 0 / >= n) feeding `to` in layer l.
 */
export function stackReach(n, k, dilations, causal, index) {
  const L = dilations.length;
  const counts = Array.from({ length: L + 1 }, () => new Array(n).fill(0));
  counts[L][index] = 1;
  const edges = [];
  for (let l = L; l >= 1; l -= 1) {
    const d = dilations[l - 1];
    const [lo] = stackPadding(k, d, causal);
    counts[l].forEach((c, t) => {
      if (!c) return;
      for (let a = 0; a < k; a += 1) {
        const src = t - lo + a * d;
        edges.push([l, src, t]);
        if (src >= 0 && src < n) counts[l - 1][src] += c;
      }
    });
  }
  const levels = counts.map((row) => row.flatMap((c, t) => (c ? [t] : [])));
  return { levels, counts, edges };
}
