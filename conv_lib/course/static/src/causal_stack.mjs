// 1-D causal / dilated stack explorer (WaveNet, TCN) — anywidget module.
//
// Model keys: layers, kernel_size, schedule ("doubling" | "constant" | "custom"), dilation (for
// "constant"), dilations (list, for "custom"), causal (bool), length, output_index (-1 = last).
import { LIMITS, SCHEDULES, dilationSchedule, inputRegion, receptiveField, stackPadding, stackReach } from "./core.mjs";
import { checkbox, clamp, h, mount, num, s, select, slider, wrapModel } from "./ui.mjs";

export * from "./core.mjs";

const L = LIMITS.stack;
export const DEFAULTS = {
  layers: 4, kernel_size: 2, schedule: "doubling", dilation: 1, dilations: [1, 2, 4, 8], causal: true,
  length: 32, output_index: -1,
};
const SCHEDULE_TEXT = { doubling: "doubling: 1, 2, 4, 8, …", constant: "constant", custom: "custom list" };

const int = (v, bounds, fallback) => (Number.isInteger(Number(v)) ? clamp(Number(v), bounds[0], bounds[1]) : fallback);

/** Normalised settings and everything derived from them. */
export function readStack(get) {
  const n = int(get("length"), L.length, DEFAULTS.length);
  const layers = int(get("layers"), L.layers, DEFAULTS.layers);
  const k = int(get("kernel_size"), L.kernel_size, DEFAULTS.kernel_size);
  const schedule = SCHEDULES.includes(get("schedule")) ? get("schedule") : "doubling";
  const constant = int(get("dilation"), L.dilation, 1);
  const rawCustom = Array.isArray(get("dilations")) ? get("dilations") : DEFAULTS.dilations;
  const custom = rawCustom.map((d) => int(d, L.custom_dilation, 1));
  const dilations = dilationSchedule(schedule, layers, { constant, custom: custom.length ? custom : [1] });
  const causal = get("causal") !== false;
  const rawIndex = Number(get("output_index"));
  const index = Number.isInteger(rawIndex) && rawIndex >= 0 ? Math.min(rawIndex, n - 1) : n - 1;
  return { n, layers, k, schedule, constant, custom, dilations, causal, index };
}

export function analyzeStack(st) {
  const pads = st.dilations.map((d) => stackPadding(st.k, d, st.causal));
  const stack = st.dilations.map((d, i) => [st.k, 1, d, pads[i][0]]);
  const rf = receptiveField(stack);
  const region = inputRegion(stack, st.index);
  const reach = stackReach(st.n, st.k, st.dilations, st.causal, st.index);
  return { pads, rf, region, reach };
}

/** Parse "1, 2, 4" into a list of dilations; returns {values} or {error}. */
export function parseDilations(text) {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) return { error: "Type at least one dilation, e.g. 1, 2, 4" };
  const values = parts.map(Number);
  const bad = parts.find((p, i) => !Number.isInteger(values[i]) || values[i] < L.custom_dilation[0] || values[i] > L.custom_dilation[1]);
  if (bad !== undefined) return { error: `“${bad}” is not a whole number from ${L.custom_dilation[0]} to ${L.custom_dilation[1]}` };
  return { values };
}

export function render({ model, el }) {
  const m = wrapModel(model, DEFAULTS, el);
  const root = mount(el, "ck-stack");
  const st0 = readStack(m.get);
  const set = (changes) => m.set(changes);

  const wLayers = slider({ label: "Layers", min: L.layers[0], max: L.layers[1], value: st0.layers, onInput: (v) => set({ layers: v }) });
  const wK = slider({ label: "Kernel size k", min: L.kernel_size[0], max: L.kernel_size[1], value: st0.k, onInput: (v) => set({ kernel_size: v }) });
  const wSchedule = select({ label: "Dilation schedule", value: st0.schedule,
    options: SCHEDULES.map((x) => [x, SCHEDULE_TEXT[x]]), onChange: (v) => set({ schedule: v }) });
  const wConst = slider({ label: "Dilation d", min: L.dilation[0], max: L.dilation[1], value: st0.constant, onInput: (v) => set({ dilation: v }) });
  const customId = `ck-dl-${Math.random().toString(36).slice(2, 8)}`;
  const customInput = h("input", { type: "text", id: customId, value: st0.custom.join(", "), inputmode: "numeric",
    "aria-describedby": `${customId}-msg`, style: "grid-column: 2 / 4; font: inherit; min-height: 28px; min-width: 0" });
  const customMsg = h("span", { class: "ck-hint", id: `${customId}-msg`, "aria-live": "polite" }, "one per layer; the last repeats");
  customInput.addEventListener("change", () => {
    const parsed = parseDilations(customInput.value);
    if (parsed.error) { customMsg.textContent = parsed.error; return; }
    customMsg.textContent = "one per layer; the last repeats";
    set({ dilations: parsed.values, schedule: "custom", layers: Math.max(readStack(m.get).layers, Math.min(parsed.values.length, L.layers[1])) });
  });
  const wCustom = { root: h("div", { class: "ck-field" }, h("label", { for: customId }, "Dilations"), customInput, customMsg) };
  const wCausal = checkbox({ label: "Causal (all padding on the left, no look-ahead)", checked: st0.causal, onChange: (v) => set({ causal: v }) });
  wCausal.root.dataset.control = "causal";
  const wLength = slider({ label: "Sequence length", min: L.length[0], max: L.length[1], value: st0.n, onInput: (v) => {
    const cur = readStack(m.get);
    set({ length: v, output_index: cur.index === cur.n - 1 ? v - 1 : Math.min(cur.index, v - 1) });
  } });
  const wIndex = slider({ label: "Output time t", min: 0, max: st0.n - 1, value: st0.index, onInput: (v) => set({ output_index: v }) });
  wIndex.root.dataset.control = "output_index";

  const controls = h("div", { class: "ck-controls", role: "group", "aria-label": "Stack settings" },
    h("fieldset", {}, h("legend", {}, "Stack"), wLayers.root, wK.root, wSchedule.root, wConst.root, wCustom.root),
    h("fieldset", {}, h("legend", {}, "Sequence"), wCausal.root, wLength.root, wIndex.root));
  const summary = h("div", { class: "ck-formula", "aria-live": "polite" });
  const figure = h("div", { class: "ck-scroll" });
  const table = h("div", { class: "ck-scroll" });
  root.append(h("div", { class: "ck-title" }, h("h3", {}, "Dilated stack explorer"),
    h("span", { class: "ck-sub" }, "which inputs reach one output through the stack")), controls, summary, figure,
  h("ul", { class: "ck-legend", "aria-label": "Legend" },
    h("li", {}, h("span", { class: "ck-swatch", style: "border-radius:50%;background:#0b5fad;border:2px solid #000" }), "reaches the chosen output (filled)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "border-radius:50%;background:#fff" }), "does not (hollow)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "background:repeating-linear-gradient(135deg,#e7edf3 0 4px,#fff 4px 8px)" }), "zero padding (hatched, dashed edges)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "background:#6e7781;height:.6em" }), "bars: number of paths from each input")),
  table);

  function update() {
    const st = readStack(m.get);
    wLayers.set(st.layers); wK.set(st.k); wSchedule.set(st.schedule); wConst.set(st.constant);
    wCausal.set(st.causal); wLength.set(st.n); wIndex.set(st.index, st.n - 1);
    wConst.root.hidden = st.schedule !== "constant";
    wCustom.root.hidden = st.schedule !== "custom";
    if (document.activeElement !== customInput && el.getRootNode().activeElement !== customInput) customInput.value = st.custom.join(", ");
    const a = analyzeStack(st);
    const counts = a.reach.counts[0];
    const reached = a.reach.levels[0];
    const [start, stop] = a.region;
    const inside = reached.length;
    const outsideLeft = Math.max(0, -start);
    const outsideRight = Math.max(0, stop - st.n);
    const skipped = a.rf - outsideLeft - outsideRight - inside;
    const sumD = st.dilations.reduce((x, y) => x + y, 0);
    const nonzero = counts.filter((c) => c > 0);
    const maxPaths = Math.max(...nonzero);
    const minPaths = Math.min(...nonzero);
    summary.dataset.rf = String(a.rf);
    summary.dataset.reached = reached.join(",");
    summary.replaceChildren(
      h("div", {}, h("b", {}, "Receptive field "), `r = 1 + (k−1)·(d₁+…+d_L) = 1 + ${st.k - 1}·(${st.dilations.join("+")}) = 1 + ${st.k - 1}·${sumD} = `, h("b", {}, String(a.rf))),
      h("div", {}, `y[${st.index}] spans x[${num(start)}] … x[${stop - 1}] (${a.rf} positions) and reads `,
        inside === a.rf ? "every one of them." : [h("b", {}, String(inside)), " of them: ", [
          outsideLeft + outsideRight ? `${outsideLeft + outsideRight} lie in the zero padding` : null,
          skipped ? `${skipped} are never touched, the dilations skip them (gridding)` : null,
        ].filter(Boolean).join("; "), "."]),
      h("div", {}, st.causal
        ? `Causal: the last input it reads is x[${stop - 1}] = the current step, never a future one.`
        : `Centred: it reads ${stop - 1 - st.index} future step(s) — fine for images, a leak for forecasting.`),
      h("div", {}, minPaths === maxPaths
        ? `Every input in the cone reaches y[${st.index}] by exactly ${maxPaths} path${maxPaths > 1 ? "s" : ""}.`
        : `Inputs reach y[${st.index}] by ${minPaths} to ${maxPaths} paths: the centre of the cone counts most.`));
    const svg = drawStack(st, a, (t) => set({ output_index: t }));
    figure.replaceChildren(svg);
    // on a narrow screen the figure scrolls: keep the chosen output in view
    requestAnimationFrame(() => {
      if (figure.scrollWidth > figure.clientWidth) {
        const frac = Number(svg.dataset.focus);
        figure.scrollLeft = Math.max(0, frac * figure.scrollWidth - figure.clientWidth / 2);
      }
    });
    table.replaceChildren(layerTable(st, a));
  }

  update();
  const unsubscribe = m.on(Object.keys(DEFAULTS), update);
  return () => unsubscribe();
}

function layerTable(st, a) {
  let rf = 1;
  return h("table", { class: "ck-table", "aria-label": "Layer by layer" },
    h("caption", { class: "ck-sr" }, "Layers, dilations, padding and receptive field"),
    h("thead", {}, h("tr", {}, ["layer", "d", "padding (left, right)", "r = r_prev + (k−1)·d"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, st.dilations.map((d, i) => {
      const prev = rf;
      rf += (st.k - 1) * d;
      return h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, String(d)), h("td", {}, `(${a.pads[i][0]}, ${a.pads[i][1]})`),
        h("td", {}, `${prev} + ${st.k - 1}·${d} = ${rf}`));
    })));
}

function drawStack(st, a, pick) {
  const { n } = st;
  const Lyr = st.dilations.length;
  const dx = 18; const dy = 52; const left = 104; const top = 22; const padW = 26;
  const barH = 34;
  const x = (t) => left + padW + t * dx + dx / 2;
  const y = (l) => top + (Lyr - l) * dy;
  const width = left + 2 * padW + n * dx + 8;
  const height = y(0) + 26 + barH;
  const { counts, edges } = a.reach;
  const kids = [];
  // padding bands on each side of every layer input row
  for (let l = 0; l < Lyr; l += 1) {
    const [lo, hi] = a.pads[l];
    if (lo) kids.push(s("rect", { x: left, y: y(l) - 9, width: padW - 4, height: 18, fill: "url(#ck-hatch)", stroke: "#8c959f", "stroke-dasharray": "3 2" }),
      s("text", { x: left + 2, y: y(l) + 4, "font-size": 10 }, `0×${lo}`));
    if (hi) kids.push(s("rect", { x: x(n - 1) + dx / 2 + 4, y: y(l) - 9, width: padW - 4, height: 18, fill: "url(#ck-hatch)", stroke: "#8c959f", "stroke-dasharray": "3 2" }),
      s("text", { x: x(n - 1) + dx / 2 + 6, y: y(l) + 4, "font-size": 10 }, `0×${hi}`));
  }
  // edges of the cone
  for (const [l, src, to] of edges) {
    const pad = src < 0 || src >= n;
    const sx = pad ? (src < 0 ? left + padW / 2 - 2 : x(n - 1) + dx / 2 + padW / 2 + 2) : x(src);
    kids.push(s("line", { x1: sx, y1: y(l - 1), x2: x(to), y2: y(l), stroke: pad ? "#8c959f" : "#0b5fad",
      "stroke-width": pad ? 1 : 1.6, "stroke-dasharray": pad ? "3 3" : null, opacity: pad ? 0.8 : 0.75 }));
  }
  // nodes
  for (let l = 0; l <= Lyr; l += 1) {
    const label = l === 0 ? "input x" : l === Lyr ? `output · d=${st.dilations[l - 1]}` : `layer ${l} · d=${st.dilations[l - 1]}`;
    kids.push(s("text", { x: 4, y: y(l) + 4 }, label));
    for (let t = 0; t < n; t += 1) {
      const on = counts[l][t] > 0;
      const chosen = l === Lyr && t === st.index;
      const node = s("circle", { cx: x(t), cy: y(l), r: chosen ? 7.5 : on ? 5 : 3.5, fill: on ? "#0b5fad" : "#ffffff",
        stroke: on ? "#000" : "#8c959f", "stroke-width": chosen ? 3 : on ? 1.2 : 1,
        "data-layer": l, "data-t": t, "data-reached": on ? "1" : "0" },
      s("title", {}, `${l === 0 ? "x" : l === Lyr ? "y" : `h${l}`}[${t}]${on ? ` — ${counts[l][t]} path(s) to y[${st.index}]` : ""}`));
      if (l === Lyr) {
        node.style.cursor = "pointer";
        node.addEventListener("click", () => pick(t));
      }
      kids.push(node);
    }
  }
  // time axis and path-count bars under the input row
  const maxCount = Math.max(1, ...counts[0]);
  for (let t = 0; t < n; t += 1) {
    if (t % (n > 40 ? 8 : 4) === 0 || t === n - 1) kids.push(s("text", { x: x(t), y: y(0) + 20, "text-anchor": "middle", "font-size": 10, fill: "#57606a" }, String(t)));
    if (counts[0][t]) {
      const bh = Math.max(2, (barH - 4) * counts[0][t] / maxCount);
      kids.push(s("rect", { x: x(t) - 5, y: y(0) + 24 + (barH - bh), width: 10, height: bh, fill: "#6e7781" },
        s("title", {}, `${counts[0][t]} path(s) from x[${t}]`)));
    }
  }
  kids.push(s("text", { x: 4, y: y(0) + 24 + barH - 4, "font-size": 10, fill: "#57606a" }, "paths per input"));
  const defs = s("defs", {}, s("pattern", { id: "ck-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
    s("rect", { width: 6, height: 6, fill: "#fff" }), s("rect", { width: 3, height: 6, fill: "#e7edf3" })));
  return s("svg", { class: "ck-svg", viewBox: `0 0 ${width} ${height}`, width: "100%", "data-focus": (x(st.index) / width).toFixed(4),
    style: `min-width:${n > 40 ? Math.round(width * 0.5) : 0}px; max-width:${width}px`, role: "img",
    "aria-label": `Stack of ${Lyr} layers over ${n} time steps; ${a.reach.levels[0].length} inputs reach output ${st.index}` }, defs, ...kids);
}

export default { render };
