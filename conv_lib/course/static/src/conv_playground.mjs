// 2-D convolution parameter playground (anywidget module).
//
// Model keys (all optional in the static book; synced traits in JupyterLab):
//   input_size, kernel_size, stride, dilation, input_dilation: int or [rows, cols]
//   padding: int | [rows, cols] | [[top, bottom], [left, right]] | "valid" | "same" | "full"
//   padding_mode: zeros | reflect | replicate | circular;  kernel: ones | ramp | edge | center
//   step: row-major index of the output position shown
import {
  AXIS_NAMES, LIMITS, KERNEL_NAMES, PADDING_MODES, ConvConfigError, checkPadding, convOutput, demoInput,
  demoKernel, kernelTooLarge, paddedGrid, resolvePadding, sizeTerms, tapPositions,
} from "./core.mjs";
import { axisPair, checkbox, clamp, fmt, h, mount, num, select, slider, wrapModel } from "./ui.mjs";

export * from "./core.mjs";

const L = LIMITS.conv;
export const DEFAULTS = {
  input_size: [5, 5], kernel_size: [3, 3], stride: [1, 1], dilation: [1, 1], input_dilation: [1, 1],
  padding: [[0, 0], [0, 0]], padding_mode: "zeros", kernel: "ones", step: 0,
};
const KNOBS = [
  ["input_size", "Input size", "H × W samples"],
  ["kernel_size", "Kernel size", "k taps"],
  ["stride", "Stride", "s: how far the window jumps"],
  ["dilation", "Dilation", "d: gap between kernel taps"],
  ["input_dilation", "Input dilation", "zeros between input samples"],
];
const MODE_TEXT = {
  zeros: "zeros (constant 0)",
  reflect: "reflect (mirror, edge once)",
  replicate: "replicate (repeat edge)",
  circular: "circular (wrap around)",
};
const KERNEL_TEXT = { ones: "ones (box sum)", ramp: "ramp 1, 2, 3, …", edge: "edge (right − left)", center: "centre tap only" };

/** Settings from the model, normalised: every per-axis value as [rows, cols], padding as pairs. */
export function readSettings(get) {
  const st = {
    input: axisPair(get("input_size"), L.input_size, DEFAULTS.input_size),
    kernel: axisPair(get("kernel_size"), L.kernel_size, DEFAULTS.kernel_size),
    stride: axisPair(get("stride"), L.stride, DEFAULTS.stride),
    dilation: axisPair(get("dilation"), L.dilation, DEFAULTS.dilation),
    inputDilation: axisPair(get("input_dilation"), L.input_dilation, DEFAULTS.input_dilation),
    mode: PADDING_MODES.includes(get("padding_mode")) ? get("padding_mode") : "zeros",
    kernelName: KERNEL_NAMES.includes(get("kernel")) ? get("kernel") : "ones",
    step: Math.max(0, Number(get("step")) || 0),
    paddingNote: null,
  };
  let pads;
  try {
    pads = resolvePadding(get("padding"), st.input, st.kernel,
      { stride: st.stride, dilation: st.dilation, inputDilation: st.inputDilation });
  } catch (err) {
    st.paddingNote = err.message;
    pads = [[0, 0], [0, 0]];
  }
  st.pads = pads.map((p) => p.map((v) => clamp(v, L.padding[0], L.padding[1])));
  return st;
}

/** Everything the view shows, including every problem with the settings (not just the first). */
export function analyze(st) {
  const x = demoInput(st.input[0], st.input[1]);
  const w = demoKernel(st.kernelName, st.kernel[0], st.kernel[1]);
  const terms = [0, 1].map((i) => sizeTerms(st.input[i], st.kernel[i], st.stride[i], st.dilation[i],
    st.inputDilation[i], st.pads[i][0], st.pads[i][1]));
  const problems = [];
  if (st.paddingNote) problems.push({ kind: "bad_padding", message: st.paddingNote });
  terms.forEach((t, i) => { if (t.out === null) problems.push(kernelTooLarge(t, i, 2)); });
  const padOk = [0, 1].map((i) => {
    try {
      checkPadding(terms[i].nDil, st.pads[i][0], st.pads[i][1], st.mode, i, 2);
      return true;
    } catch (err) {
      if (!(err instanceof ConvConfigError)) throw err;
      problems.push(err);
      return false;
    }
  });
  // A padding the mode cannot produce is drawn as "?" cells over a zero-padded grid.
  const grid = paddedGrid(x, st.pads, st.inputDilation, padOk.every(Boolean) ? st.mode : "zeros");
  let result = null;
  if (!problems.length) {
    result = convOutput(x, w, { stride: st.stride, dilation: st.dilation, inputDilation: st.inputDilation,
      padding: st.pads, paddingMode: st.mode });
  }
  return { x, w, terms, problems, padOk, grid, result };
}

function formulaLines(terms) {
  return terms.map((t, i) => {
    const [N, lo, hi] = i === 0 ? ["H", "top", "bottom"] : ["W", "left", "right"];
    const lines = [];
    const nDil = t.di > 1 ? `${N}′` : N;
    lines.push(h("div", {}, h("b", {}, `${AXIS_NAMES[i]}: `),
      `${N}_out = ⌊(${nDil} + p_${lo} + p_${hi} − k_eff) / s⌋ + 1`));
    if (t.di > 1) lines.push(h("div", {}, `  ${nDil} = (${N}−1)·D_in + 1 = (${t.n}−1)·${t.di} + 1 = ${t.nDil}`));
    lines.push(h("div", {}, `  k_eff = d·(k−1) + 1 = ${t.d}·(${t.k}−1) + 1 = ${t.kEff}`));
    const sub = `⌊(${t.nDil} + ${t.lo} + ${t.hi} − ${t.kEff}) / ${t.s}⌋ + 1`;
    lines.push(h("div", {}, t.out === null
      ? `  ${N}_out = ${sub} = ⌊${num(t.room)} / ${t.s}⌋ + 1  →  negative: the kernel does not fit`
      : `  ${N}_out = ${sub} = ⌊${t.room} / ${t.s}⌋ + 1 = `, t.out === null ? null : h("b", {}, String(t.out))));
    return lines;
  }).flat();
}

function padTitle(cell, st, axisOk) {
  if (!axisOk) return "padding the current mode cannot produce";
  if (st.mode === "zeros" || !cell.src) return `padding: ${cell.kind === "pad" && st.mode !== "zeros" ? "copy of an inserted zero" : "zero"}`;
  return `padding (${st.mode}): copy of x[${cell.src[0]}, ${cell.src[1]}] = ${fmt(cell.value)}`;
}

function gridTable({ caption, rows, cols, cell, colHead, rowHead, label }) {
  const head = colHead ? h("tr", {}, h("th", { scope: "col" }, ""), cols.map((c) => h("th", { scope: "col" }, colHead(c)))) : null;
  return h("table", { class: "ck-grid", "aria-label": label },
    h("caption", {}, caption),
    h("tbody", {}, head, rows.map((r) => h("tr", {}, rowHead ? h("th", { scope: "row" }, rowHead(r)) : null,
      cols.map((c) => cell(r, c))))));
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

export function render({ model, el }) {
  const m = wrapModel(model, DEFAULTS, el);
  const root = mount(el, "ck-conv");
  const ui = m.ui;      // {linked, symmetric}: remembered across re-renders of the static book
  if (ui.linked === undefined) {
    const st = readSettings(m.get);
    const same = (p) => p[0] === p[1];
    ui.linked = same(st.input) && same(st.kernel) && same(st.stride) && same(st.dilation)
      && same(st.inputDilation) && st.pads[0][0] === st.pads[1][0] && st.pads[0][1] === st.pads[1][1];
    ui.symmetric = st.pads.every(same);
  }
  ui.timer = null;

  const controls = h("div", { class: "ck-controls", role: "group", "aria-label": "Convolution settings" });
  const shapeLine = h("div", { class: "ck-big", "aria-live": "polite" });
  const formula = h("div", { class: "ck-formula", "aria-label": "Output-size formula with the current numbers" });
  const problems = h("div", { class: "ck-problems", role: "alert" });
  const stepper = h("div", { class: "ck-stepper", role: "group", "aria-label": "Step through output positions" });
  const sumLine = h("div", { class: "ck-sum", "aria-live": "polite" });
  const panels = h("div", { class: "ck-panels" });
  root.append(
    h("div", { class: "ck-title" }, h("h3", {}, "Convolution playground"),
      h("span", { class: "ck-sub" }, "move a control, then step through the output positions")),
    controls, shapeLine, formula, problems, stepper, sumLine, panels, legend());

  // -- controls ----------------------------------------------------------------------------
  let widgets = {};
  function writePair(key, axis, value) {
    const cur = readSettings(m.get);
    const field = { input_size: "input", kernel_size: "kernel", stride: "stride", dilation: "dilation", input_dilation: "inputDilation" }[key];
    const pair = [...cur[field]];
    if (axis === null) pair[0] = pair[1] = value; else pair[axis] = value;
    m.set({ [key]: pair, padding: cur.pads, step: 0 });
  }
  function writePad(which, value) {
    // which: list of [axis, side] entries to set
    const pads = readSettings(m.get).pads.map((p) => [...p]);
    for (const [axis, side] of which) pads[axis][side] = value;
    m.set({ padding: pads, step: 0 });
  }
  function buildControls() {
    stopPlay();
    widgets = { knobs: [], pads: [] };
    const st = readSettings(m.get);
    const shape = h("fieldset", {}, h("legend", {}, "Sizes, stride, dilation"));
    for (const [key, label, hint] of KNOBS) {
      const field = { input_size: "input", kernel_size: "kernel", stride: "stride", dilation: "dilation", input_dilation: "inputDilation" }[key];
      const axes = ui.linked ? [null] : [0, 1];
      for (const axis of axes) {
        const text = axis === null ? label : `${label} ${axis === 0 ? "↕ rows" : "↔ cols"}`;
        const sl = slider({ label: text, min: L[key][0], max: L[key][1], value: st[field][axis ?? 0],
          hint: axis === 1 ? null : hint, onInput: (v) => writePair(key, axis, v) });
        sl.root.dataset.knob = key;
        if (axis !== null) sl.root.dataset.axis = String(axis);
        widgets.knobs.push({ field, axis, sl });
        shape.append(sl.root);
      }
    }
    const padSet = h("fieldset", {}, h("legend", {}, "Padding"));
    const sides = ui.linked
      ? (ui.symmetric ? [["Padding (all sides)", [[0, 0], [0, 1], [1, 0], [1, 1]]]]
        : [["Before (top, left)", [[0, 0], [1, 0]]], ["After (bottom, right)", [[0, 1], [1, 1]]]])
      : (ui.symmetric ? [["Rows (top, bottom)", [[0, 0], [0, 1]]], ["Cols (left, right)", [[1, 0], [1, 1]]]]
        : [["Top", [[0, 0]]], ["Bottom", [[0, 1]]], ["Left", [[1, 0]]], ["Right", [[1, 1]]]]);
    for (const [label, which] of sides) {
      const sl = slider({ label, min: L.padding[0], max: L.padding[1], value: st.pads[which[0][0]][which[0][1]],
        onInput: (v) => writePad(which, v) });
      sl.root.dataset.pad = which.map(([a, sd]) => `${a}${sd}`).join(" ");
      widgets.pads.push({ which, sl });
      padSet.append(sl.root);
    }
    widgets.mode = select({ label: "Padding mode", value: st.mode, options: PADDING_MODES.map((md) => [md, MODE_TEXT[md]]),
      onChange: (v) => m.set({ padding_mode: v, padding: readSettings(m.get).pads }) });
    widgets.mode.root.dataset.control = "padding_mode";
    padSet.append(widgets.mode.root);
    widgets.presets = h("div", { class: "ck-presets" }, h("span", {}, "Presets:"),
      ["valid", "same", "full"].map((name) => h("button", { type: "button", "data-preset": name,
        title: `padding='${name}' as in JAX/TensorFlow (needs input dilation 1)`,
        onclick: () => applyPreset(name) }, name)));
    padSet.append(widgets.presets);

    const options = h("fieldset", {}, h("legend", {}, "Kernel and layout"));
    widgets.kernel = select({ label: "Kernel weights", value: st.kernelName, options: KERNEL_NAMES.map((k) => [k, KERNEL_TEXT[k]]),
      onChange: (v) => m.set({ kernel: v, padding: readSettings(m.get).pads }) });
    widgets.linked = checkbox({ label: "Same value for rows and columns", checked: ui.linked, onChange: (v) => {
      ui.linked = v;
      if (v) {  // make the columns follow the rows
        const cur = readSettings(m.get);
        const both = (p) => [p[0], p[0]];
        m.set({ input_size: both(cur.input), kernel_size: both(cur.kernel), stride: both(cur.stride),
          dilation: both(cur.dilation), input_dilation: both(cur.inputDilation), padding: [cur.pads[0], [...cur.pads[0]]] });
      }
      buildControls(); update();
      controls.querySelector("[data-control=linked] input").focus();
    } });
    widgets.linked.root.dataset.control = "linked";
    widgets.symmetric = checkbox({ label: "Symmetric padding (after = before)", checked: ui.symmetric, onChange: (v) => {
      ui.symmetric = v;
      if (v) m.set({ padding: readSettings(m.get).pads.map((p) => [p[0], p[0]]) });
      buildControls(); update();
      controls.querySelector("[data-control=symmetric] input").focus();
    } });
    widgets.symmetric.root.dataset.control = "symmetric";
    options.append(widgets.kernel.root, widgets.linked.root, widgets.symmetric.root);
    controls.replaceChildren(shape, padSet, options);
  }
  function applyPreset(name) {
    const cur = readSettings(m.get);
    try {
      const pads = resolvePadding(name, cur.input, cur.kernel, { stride: cur.stride, dilation: cur.dilation, inputDilation: cur.inputDilation });
      if (pads.some(([lo, hi]) => lo !== hi)) ui.symmetric = false;
      if (pads[0][0] !== pads[1][0] || pads[0][1] !== pads[1][1]) ui.linked = false;
      m.set({ padding: pads, step: 0 });
      buildControls(); update();
    } catch (err) {
      problems.replaceChildren(h("p", {}, err.message));
    }
  }

  // -- stepper -----------------------------------------------------------------------------
  const prev = h("button", { type: "button", onclick: () => go(-1), "aria-label": "Previous output position" }, "◀ Prev");
  const play = h("button", { type: "button", "aria-pressed": "false", onclick: () => togglePlay() }, "▶ Play");
  const next = h("button", { type: "button", onclick: () => go(1), "aria-label": "Next output position" }, "Next ▶");
  const scrub = slider({ label: "Output position", min: 1, max: 1, value: 1, onInput: (v) => { stopPlay(); m.set({ step: v - 1 }); } });
  scrub.root.dataset.control = "scrub";
  stepper.append(prev, play, next, scrub.root);
  let total = 1;
  function currentStep() {
    return clamp(readSettings(m.get).step, 0, Math.max(total - 1, 0));
  }
  function go(delta) {
    stopPlay();
    m.set({ step: clamp(currentStep() + delta, 0, total - 1) });
  }
  function stopPlay() {
    if (ui.timer) clearInterval(ui.timer);
    ui.timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-pressed", "false");
  }
  function togglePlay() {
    if (ui.timer) { stopPlay(); return; }
    if (currentStep() >= total - 1) m.set({ step: 0 });
    play.textContent = "❚❚ Pause";
    play.setAttribute("aria-pressed", "true");
    ui.timer = setInterval(() => {
      const sNow = currentStep();
      if (sNow >= total - 1) { stopPlay(); return; }
      m.set({ step: sNow + 1 });
    }, 750);
  }

  // -- drawing -----------------------------------------------------------------------------
  function update() {
    const st = readSettings(m.get);
    for (const { field, axis, sl } of widgets.knobs) sl.set(st[field][axis ?? 0]);
    for (const { which, sl } of widgets.pads) sl.set(st.pads[which[0][0]][which[0][1]]);
    widgets.mode.set(st.mode);
    widgets.kernel.set(st.kernelName);
    const stringsOk = st.inputDilation.every((f) => f === 1);
    widgets.presets.querySelectorAll("button").forEach((b) => {
      b.disabled = !stringsOk;
      b.title = stringsOk ? `padding='${b.dataset.preset}' as in JAX/TensorFlow`
        : "padding strings need input dilation 1 (JAX and Flax have the same rule); set the sides by hand";
    });

    const a = analyze(st);
    const out = a.result ? a.result.plan.outShape : null;
    shapeLine.textContent = out
      ? `Output shape: ${out[0]} × ${out[1]}  (input ${st.input[0]} × ${st.input[1]}, padded ${a.terms[0].nPad} × ${a.terms[1].nPad})`
      : "Output shape: none — see the problem below";
    shapeLine.dataset.shape = out ? `${out[0]}x${out[1]}` : "invalid";
    formula.replaceChildren(...formulaLines(a.terms));
    problems.replaceChildren(...a.problems.map((p) => h("p", { "data-kind": p.kind }, p.message)));

    total = out ? out[0] * out[1] : 1;
    const step = out ? clamp(st.step, 0, total - 1) : 0;
    const [oi, oj] = out ? [Math.floor(step / out[1]), step % out[1]] : [null, null];
    scrub.set(step + 1, Math.max(total, 1));
    scrub.input.disabled = !out;
    [prev, next, play].forEach((b) => { b.disabled = !out; });
    if (!out) stopPlay();

    const taps = out ? tapPositions(a.result.plan, oi, oj) : [];
    const tapAt = new Map(taps.map((t) => [`${t.r},${t.c}`, t]));
    const win = out ? [oi * st.stride[0], oj * st.stride[1]] : null;
    if (out) {
      const value = a.result.output[oi][oj];
      const terms = taps.map((t) => h("span", { class: "ck-term" }, `${fmt(a.grid[t.r][t.c].value)}×${fmt(a.w[t.a][t.b])}`));
      const joined = terms.flatMap((t, i) => (i ? [" + ", t] : [t]));
      sumLine.replaceChildren(h("b", {}, `y[${oi}, ${oj}]`), " = ", ...joined, " = ", h("b", {}, fmt(value)),
        h("div", { class: "ck-note" }, `Window starts at padded row i·s = ${oi}·${st.stride[0]} = ${win[0]}, `
          + `column j·s = ${oj}·${st.stride[1]} = ${win[1]}; taps every ${st.dilation[0]} row(s) and ${st.dilation[1]} column(s). `
          + `Step ${step + 1} of ${total}.`));
    } else {
      sumLine.replaceChildren();
    }

    // padded input grid
    const g = a.grid;
    const lo = [st.pads[0][0], st.pads[1][0]];
    const nDil = [a.terms[0].nDil, a.terms[1].nDil];
    const padded = gridTable({
      caption: `Padded input ${g.length} × ${g[0].length}`,
      label: "Input after input dilation and padding; the sampled taps are outlined",
      rows: range(g.length), cols: range(g[0].length),
      colHead: (c) => num(c - lo[1]), rowHead: (r) => num(r - lo[0]),
      cell: (r, c) => {
        const cell = g[r][c];
        const tap = tapAt.get(`${r},${c}`);
        const axisOk = a.padOk[0] && a.padOk[1];
        const inWin = win && r >= win[0] && r < win[0] + a.terms[0].kEff && c >= win[1] && c < win[1] + a.terms[1].kEff;
        const classes = [`ck-${cell.kind === "input" ? "in" : cell.kind}`];
        if (tap) classes.push("ck-tap"); else if (inWin) classes.push("ck-win");
        let text = fmt(cell.value);
        let title;
        if (cell.kind === "pad") {
          const rowBad = !a.padOk[0] && (r < lo[0] || r >= lo[0] + nDil[0]);
          const colBad = !a.padOk[1] && (c < lo[1] || c >= lo[1] + nDil[1]);
          if (rowBad || colBad) { text = "?"; title = "padding the current mode cannot produce"; } else title = padTitle(cell, st, axisOk);
        } else if (cell.kind === "hole") title = "zero inserted by input dilation";
        else title = `x[${cell.src[0]}, ${cell.src[1]}] = ${fmt(cell.value)}`;
        if (tap) title += ` — tap (${tap.a}, ${tap.b}), weight ${fmt(a.w[tap.a][tap.b])}`;
        return h("td", { class: classes.join(" "), title, "data-w": tap ? `×${fmt(a.w[tap.a][tap.b])}` : null,
          "data-r": r, "data-c": c }, text);
      },
    });

    const kernelTable = gridTable({
      caption: `Kernel ${st.kernel[0]} × ${st.kernel[1]}`, label: "Kernel: the weight of each tap",
      rows: range(st.kernel[0]), cols: range(st.kernel[1]),
      cell: (r, c) => h("td", { class: "ck-in", title: `w[${r}, ${c}]` }, fmt(a.w[r][c])),
    });
    const kEff = [a.terms[0].kEff, a.terms[1].kEff];
    const effTable = gridTable({
      caption: `Effective kernel ${kEff[0]} × ${kEff[1]}`, label: "Kernel spread out by the dilation; dotted cells are gaps",
      rows: range(kEff[0]), cols: range(kEff[1]),
      cell: (r, c) => {
        const isTap = r % st.dilation[0] === 0 && c % st.dilation[1] === 0;
        return isTap ? h("td", { class: "ck-in ck-tapw", title: `tap w[${r / st.dilation[0]}, ${c / st.dilation[1]}]` }, fmt(a.w[r / st.dilation[0]][c / st.dilation[1]]))
          : h("td", { class: "ck-gap", title: "gap: skipped by the dilation" }, "·");
      },
    });

    let outPanel;
    if (out) {
      outPanel = gridTable({
        caption: `Output ${out[0]} × ${out[1]}`, label: "Output; press a cell to jump to it",
        rows: range(out[0]), cols: range(out[1]),
        colHead: (c) => String(c), rowHead: (r) => String(r),
        cell: (r, c) => {
          const k = r * out[1] + c;
          const state = k < step ? "done" : k === step ? "now" : "todo";
          const v = a.result.output[r][c];
          return h("td", { class: `ck-${state}`, "data-r": r, "data-c": c, "data-value": v },
            h("button", { type: "button", class: "ck-cellbtn", "aria-label": `output ${r}, ${c}${state === "todo" ? " (not computed yet)" : ` = ${fmt(v)}`}`,
              onclick: () => { stopPlay(); m.set({ step: k }); } }, state === "todo" ? "·" : fmt(v)));
        },
      });
    } else {
      outPanel = h("div", {}, h("h4", {}, "Output"), h("p", { class: "ck-note" }, "No output: fix the settings flagged above."));
    }
    panels.replaceChildren(
      h("div", { class: "ck-panel ck-scroll" }, padded),
      h("div", { class: "ck-panel" }, kernelTable, st.dilation.some((d) => d > 1) ? effTable : null),
      h("div", { class: "ck-panel ck-scroll", "data-panel": "output" }, outPanel));
  }

  buildControls();
  update();
  const unsubscribe = m.on(Object.keys(DEFAULTS), update);
  return () => { stopPlay(); unsubscribe(); };
}

function legend() {
  return h("ul", { class: "ck-legend", "aria-label": "Legend" },
    h("li", {}, h("span", { class: "ck-swatch", style: "border:3px solid #000;background:#ffd33d" }, "×w"), "tap sampled now (weight in the corner)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "box-shadow: inset 0 0 0 2px #6e7781" }), "inside the window, skipped by dilation"),
    h("li", {}, h("span", { class: "ck-swatch", style: "background:repeating-linear-gradient(135deg,#e7edf3 0 4px,#fff 4px 8px)" }, "p"), "padding (hatched)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "border-style:dashed;color:#8c959f" }, "0"), "zero from input dilation (dashed)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "background:#dbeafe" }, "7"), "output computed"),
    h("li", {}, h("span", { class: "ck-swatch" }, "·"), "not yet"));
}

export default { render };
