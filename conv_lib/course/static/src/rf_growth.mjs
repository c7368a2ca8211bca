// Receptive-field growth through a 2-D stack of conv / pooling layers — anywidget module.
//
// Model keys: layers (list of {type: "conv"|"pool", k, s, d, p}), input_size (square side),
// selected_layer (0 = input, 1..L; -1 = last), unit ([row, col] in that layer's output).
import { LIMITS, effectiveKernelSize, inputRegion, outputSize, receptiveFieldTable } from "./core.mjs";
import { clamp, h, mount, num, s, select, slider, sub, uid, wrapModel } from "./ui.mjs";

export * from "./core.mjs";

const L = LIMITS.rf;
const conv3 = { type: "conv", k: 3, s: 1, d: 1, p: 1 };
export const PRESETS = {
  "conv, conv, pool, conv": [conv3, conv3, { type: "pool", k: 2, s: 2, d: 1, p: 0 }, conv3],
  "three 3×3 (VGG)": [conv3, conv3, conv3],
  "quick check: conv conv pool conv conv": [conv3, conv3, { type: "pool", k: 2, s: 2, d: 1, p: 0 }, conv3, conv3],
  "ResNet stem": [{ type: "conv", k: 7, s: 2, d: 1, p: 3 }, { type: "pool", k: 3, s: 2, d: 1, p: 1 }, conv3, conv3],
  "dilated 1, 2, 4 (atrous)": [conv3, { type: "conv", k: 3, s: 1, d: 2, p: 2 }, { type: "conv", k: 3, s: 1, d: 4, p: 4 }],
  "all stride 2": [{ type: "conv", k: 3, s: 2, d: 1, p: 1 }, { type: "conv", k: 3, s: 2, d: 1, p: 1 }, { type: "conv", k: 3, s: 2, d: 1, p: 1 }],
};
export const DEFAULTS = { layers: PRESETS["conv, conv, pool, conv"], input_size: 32, selected_layer: -1, unit: [8, 8] };

const int = (v, b, fallback) => (Number.isInteger(Number(v)) ? clamp(Number(v), b[0], b[1]) : fallback);

export function normalizeLayers(raw) {
  const list = Array.isArray(raw) ? raw.slice(0, L.layers[1]) : DEFAULTS.layers;
  return list.map((layer) => {
    const o = Array.isArray(layer) ? { k: layer[0], s: layer[1], d: layer[2], p: layer[3] } : (layer || {});
    const type = o.type === "pool" ? "pool" : "conv";
    return { type, k: int(o.k, L.kernel, 3), s: int(o.s ?? 1, L.stride, 1),
      d: type === "pool" ? 1 : int(o.d ?? 1, L.dilation, 1), p: int(o.p ?? 0, L.padding, 0) };
  });
}

/** Sizes, recursion rows and the selected unit's regions. */
export function analyzeStackRF(layers, n, selected, unit) {
  const sizes = [n];
  const errors = [];
  for (const [i, ly] of layers.entries()) {
    try {
      sizes.push(outputSize(sizes[i], ly.k, { stride: ly.s, padding: ly.p, dilation: ly.d }));
    } catch (err) {
      errors.push({ layer: i + 1, message: `Layer ${i + 1} does not fit: its effective kernel d(k−1)+1 = ${effectiveKernelSize(ly.k, ly.d)} is larger than the padded map ${sizes[i]} + 2·${ly.p} = ${sizes[i] + 2 * ly.p}.` });
      break;
    }
  }
  const usable = sizes.length - 1;                       // layers whose output exists
  const sel = clamp(selected < 0 ? usable : selected, 0, usable);
  const u = unit.map((v) => clamp(v, 0, sizes[sel] - 1));
  const tuples = layers.map((ly) => [ly.k, ly.s, ly.d, ly.p]);
  const table = receptiveFieldTable(tuples);
  // regions[m] = region, in map-m coordinates, seen by unit u of layer sel (for m <= sel)
  const regions = sizes.slice(0, sel + 1).map((_, m) => u.map((i) => inputRegion(tuples.slice(m, sel), i)));
  return { sizes, errors, usable, sel, unit: u, table, regions };
}

export function render({ model, el }) {
  const m = wrapModel(model, DEFAULTS, el);
  const root = mount(el, "ck-rf");
  const read = () => {
    const layers = normalizeLayers(m.get("layers"));
    const n = int(m.get("input_size"), L.input_size, 32);
    const rawSel = Number(m.get("selected_layer"));
    const unitRaw = m.get("unit");
    const unit = (Array.isArray(unitRaw) ? unitRaw : [unitRaw, unitRaw]).map((v) => Math.max(0, Number(v) || 0));
    return { layers, n, selected: Number.isInteger(rawSel) ? rawSel : -1, unit };
  };
  const st0 = read();
  const wSize = slider({ label: "Input size", min: L.input_size[0], max: L.input_size[1], value: st0.n, hint: "square input, N × N pixels",
    onInput: (v) => m.set({ input_size: v }) });
  const presetSel = select({ label: "Load a stack", value: "", options: [["", "— choose —"], ...Object.keys(PRESETS).map((k) => [k, k])],
    onChange: (v) => {
      if (PRESETS[v]) {  // trace the middle unit of the last map
        const a = analyzeStackRF(PRESETS[v], read().n, -1, [0, 0]);
        const mid = Math.floor(a.sizes[a.sel] / 2);
        m.set({ layers: PRESETS[v], selected_layer: a.sel, unit: [mid, mid] });
      }
      presetSel.set("");
    } });
  const wLayer = slider({ label: "Show layer", min: 0, max: Math.max(st0.layers.length, 1), value: 0, hint: "0 = the input itself",
    onInput: (v) => m.set({ selected_layer: v }) });
  wLayer.root.dataset.control = "selected_layer";
  const wRow = slider({ label: "Unit row i", min: 0, max: 1, value: 0, onInput: (v) => m.set({ unit: [v, read().unit[1]] }) });
  const wCol = slider({ label: "Unit col j", min: 0, max: 1, value: 0, onInput: (v) => m.set({ unit: [read().unit[0], v] }) });
  const controls = h("div", { class: "ck-controls", role: "group", "aria-label": "Stack and unit" },
    h("fieldset", {}, h("legend", {}, "Input and stack"), wSize.root, presetSel.root),
    h("fieldset", {}, h("legend", {}, "Unit to trace"), wLayer.root, wRow.root, wCol.root));
  const tableBox = h("div", { class: "ck-scroll" });
  const addBar = h("div", { class: "ck-presets" },
    h("button", { type: "button", "data-add": "conv", onclick: () => addLayer("conv") }, "+ conv layer"),
    h("button", { type: "button", "data-add": "pool", onclick: () => addLayer("pool") }, "+ pooling layer"));
  const summary = h("div", { class: "ck-formula", "aria-live": "polite" });
  const problems = h("div", { class: "ck-problems", role: "alert" });
  const maps = h("div", { class: "ck-panels ck-scroll" });
  root.append(h("div", { class: "ck-title" }, h("h3", {}, "Receptive-field growth"),
    h("span", { class: "ck-sub" }, "edit the layers; trace what one unit sees")),
  controls, h("h4", {}, "Layers (edit in place)"), tableBox, addBar, problems, summary, maps,
  h("ul", { class: "ck-legend", "aria-label": "Legend" },
    h("li", {}, h("span", { class: "ck-swatch", style: "background:#000" }), "the traced unit"),
    h("li", {}, h("span", { class: "ck-swatch", style: "background:repeating-linear-gradient(135deg,#ffd33d 0 3px,#fff 3px 6px);border:2px solid #000" }), "region it sees (hatched, outlined)"),
    h("li", {}, h("span", { class: "ck-swatch", style: "border:2px dashed #b3261e" }), "part of the region in the padding")));

  function writeLayers(layers, extra = {}) {
    m.set({ layers, ...extra });
  }
  function addLayer(type) {
    const { layers } = read();
    if (layers.length >= L.layers[1]) return;
    const layer = type === "pool" ? { type: "pool", k: 2, s: 2, d: 1, p: 0 } : { ...conv3 };
    writeLayers([...layers, layer], { selected_layer: layers.length + 1 });
    focusLater(`[data-row="${layers.length}"] [data-key=k]`);
  }
  function focusLater(selector) {
    setTimeout(() => { const n = tableBox.querySelector(selector); if (n) n.focus(); }, 0);
  }

  function layerTable(st, a) {
    const head = ["trace", "layer", "k", "s", "d", "p", "jₗ₋₁", "rₗ = rₗ₋₁ + d(k−1)·jₗ₋₁", "jₗ", "map", ""];
    let prevRf = 1;
    const rows = st.layers.map((ly, i) => {
      const row = a.table[i];
      const ok = i < a.usable;
      const cellInput = (key) => {
        const id = uid("ck-l");
        const disabled = key === "d" && ly.type === "pool";
        const name = { k: "kernel size", s: "stride", d: "dilation", p: "padding" }[key];
        const input = h("input", { type: "number", id, min: L[{ k: "kernel", s: "stride", d: "dilation", p: "padding" }[key]][0],
          max: L[{ k: "kernel", s: "stride", d: "dilation", p: "padding" }[key]][1], value: ly[key], disabled, "data-key": key });
        input.addEventListener("change", () => {
          const v = Number(input.value);
          const layers = read().layers;
          const bounds = L[{ k: "kernel", s: "stride", d: "dilation", p: "padding" }[key]];
          if (!Number.isInteger(v)) { input.value = layers[i][key]; return; }
          layers[i] = { ...layers[i], [key]: clamp(v, bounds[0], bounds[1]) };
          writeLayers(layers);
          focusLater(`[data-row="${i}"] [data-key=${key}]`);
        });
        return h("td", {}, h("label", { for: id, class: "ck-sr" }, `layer ${i + 1} ${name}`), input);
      };
      const typeId = uid("ck-t");
      const typeSel = h("select", { id: typeId, "data-key": "type" },
        h("option", { value: "conv", selected: ly.type === "conv" }, "conv"), h("option", { value: "pool", selected: ly.type === "pool" }, "pool"));
      typeSel.addEventListener("change", () => {
        const layers = read().layers;
        layers[i] = { ...layers[i], type: typeSel.value, d: typeSel.value === "pool" ? 1 : layers[i].d };
        writeLayers(layers);
        focusLater(`[data-row="${i}"] [data-key=type]`);
      });
      const rfText = `${row.rf} = ${prevRf} + ${row.dilation}·(${row.kernel}−1)·${row.jump_in}`;
      prevRf = row.rf;
      const selected = a.sel === i + 1;
      return h("tr", { class: selected ? "ck-selected" : null, "data-row": i, "data-rf": row.rf },
        h("td", {}, h("button", { type: "button", "aria-pressed": selected ? "true" : "false", "aria-label": `trace a unit of layer ${i + 1}`,
          disabled: !ok, onclick: () => m.set({ selected_layer: i + 1 }) }, selected ? "●" : "○")),
        h("td", {}, `${i + 1} `, h("label", { for: typeId, class: "ck-sr" }, `layer ${i + 1} type`), typeSel),
        cellInput("k"), cellInput("s"), cellInput("d"), cellInput("p"),
        h("td", {}, String(row.jump_in)), h("td", {}, rfText), h("td", {}, String(row.jump)),
        h("td", {}, ok ? `${a.sizes[i + 1]} × ${a.sizes[i + 1]}` : "—"),
        h("td", {}, h("button", { type: "button", "aria-label": `remove layer ${i + 1}`, title: "remove this layer", onclick: () => {
          const layers = read().layers.filter((_, j) => j !== i);
          writeLayers(layers, { selected_layer: Math.min(read().selected < 0 ? layers.length : read().selected, layers.length) });
          focusLater(`[data-row="${Math.max(0, i - 1)}"] [data-key=k]`);
        } }, "✕")));
    });
    return h("div", {}, h("table", { class: "ck-table", "aria-label": "Layers and the receptive-field recursion" },
      h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, h("tr", { class: a.sel === 0 ? "ck-selected" : null }, h("td", {},
        h("button", { type: "button", "aria-pressed": a.sel === 0 ? "true" : "false", "aria-label": "trace a pixel of the input", onclick: () => m.set({ selected_layer: 0 }) }, a.sel === 0 ? "●" : "○")),
      h("td", {}, "input"), h("td", { colspan: 4 }, ""), h("td", {}, "—"), h("td", {}, "r₀ = 1"), h("td", {}, "1"), h("td", {}, `${st.n} × ${st.n}`), h("td", {}, "")),
      rows)),
    h("p", { class: "ck-note" }, "jₗ₋₁ = jump into layer l = product of the strides before it (input pixels between neighbouring units); "
      + "jₗ = jₗ₋₁·sₗ; rₗ = receptive field after layer l; pooling layers count with d = 1."));
  }

  function update() {
    const st = read();
    const a = analyzeStackRF(st.layers, st.n, st.selected, st.unit);
    wSize.set(st.n);
    wLayer.set(a.sel, Math.max(a.usable, 1));
    wLayer.input.disabled = a.usable === 0;
    const side = a.sizes[a.sel];
    wRow.set(a.unit[0], Math.max(side - 1, 1)); wCol.set(a.unit[1], Math.max(side - 1, 1));
    wRow.input.disabled = side <= 1; wCol.input.disabled = side <= 1;
    const active = tableBox.contains(document.activeElement) || tableBox.contains(el.getRootNode().activeElement);
    if (!active) tableBox.replaceChildren(layerTable(st, a));
    else queueMicrotask(() => tableBox.replaceChildren(layerTable(st, a)));
    addBar.querySelectorAll("button").forEach((b) => { b.disabled = st.layers.length >= L.layers[1]; });
    problems.replaceChildren(...a.errors.map((e) => h("p", {}, e.message)));

    const [rows, cols] = a.regions[0];
    const rf = rows[1] - rows[0];
    const clip = (r) => [Math.max(r[0], 0), Math.min(r[1], st.n)];
    const inside = (clip(rows)[1] - clip(rows)[0]) * (clip(cols)[1] - clip(cols)[0]);
    const row = a.sel ? a.table[a.sel - 1] : null;
    summary.dataset.rf = String(rf);
    summary.dataset.region = `${rows[0]},${rows[1]},${cols[0]},${cols[1]}`;
    summary.replaceChildren(
      h("div", {}, h("b", {}, a.sel ? `Layer ${a.sel}, unit (${a.unit[0]}, ${a.unit[1]})` : `Input pixel (${a.unit[0]}, ${a.unit[1]})`),
        ` sees input rows ${num(rows[0])}…${rows[1] - 1} and columns ${num(cols[0])}…${cols[1] - 1}: `, h("b", {}, `${rf} × ${rf}`), " pixels"),
      row ? h("div", {}, `r${sub(a.sel)} = ${row.rf}; jump j${sub(a.sel)} = ${row.jump} (neighbouring units are ${row.jump} input pixels apart); `
        + `unit 0 starts at ${num(row.start)} = −Σ pₗ·jₗ₋₁ (the left padding of each layer, in input pixels)`) : h("div", {}, "A pixel sees itself: r₀ = 1, j₀ = 1."),
      h("div", {}, `Row start of unit i: start + i·j = ${num(row ? row.start : 0)} + ${a.unit[0]}·${row ? row.jump : 1} = ${num(rows[0])}. `
        + `${inside} of its ${rf * rf} pixels are inside the ${st.n}×${st.n} input (${(100 * inside / (st.n * st.n)).toFixed(1)}% of the image)`
        + `${inside < rf * rf ? "; the rest is padding" : ""}.`));
    maps.replaceChildren(...a.sizes.slice(0, a.sel + 1).map((size, mIdx) => drawMap(size, mIdx, a, st, mIdx === 0 ? 240 : 150,
      (i, j) => m.set({ selected_layer: mIdx, unit: [i, j] }))));
  }

  update();
  const unsubscribe = m.on(Object.keys(DEFAULTS), update);
  return () => unsubscribe();
}

function drawMap(size, mIdx, a, st, box, pick) {
  const cell = clamp(Math.floor(box / size), 2, 16);
  const margin = 14;
  const [rr, cc] = a.regions[mIdx];
  const padL = Math.max(0, -Math.min(rr[0], cc[0]));
  const padR = Math.max(0, Math.max(rr[1], cc[1]) - size);
  const off = margin + padL * cell;
  const w = off + (size + padR) * cell + margin;
  const kids = [];
  kids.push(s("rect", { x: off, y: off, width: size * cell, height: size * cell, fill: "#f6f8fa", stroke: "#57606a" }));
  if (cell >= 5) {
    for (let i = 1; i < size; i += 1) {
      kids.push(s("line", { x1: off + i * cell, y1: off, x2: off + i * cell, y2: off + size * cell, stroke: "#d0d7de", "stroke-width": 0.6 }),
        s("line", { x1: off, y1: off + i * cell, x2: off + size * cell, y2: off + i * cell, stroke: "#d0d7de", "stroke-width": 0.6 }));
    }
  }
  const reg = { x: off + cc[0] * cell, y: off + rr[0] * cell, width: (cc[1] - cc[0]) * cell, height: (rr[1] - rr[0]) * cell };
  const clipped = { x0: Math.max(cc[0], 0), x1: Math.min(cc[1], size), y0: Math.max(rr[0], 0), y1: Math.min(rr[1], size) };
  if (mIdx < a.sel) {
    kids.push(s("rect", { x: off + clipped.x0 * cell, y: off + clipped.y0 * cell, width: (clipped.x1 - clipped.x0) * cell,
      height: (clipped.y1 - clipped.y0) * cell, fill: "url(#ck-rf-hatch)", stroke: "#000", "stroke-width": 2.5 }));
    if (reg.x < off || reg.y < off || cc[1] > size || rr[1] > size) {
      kids.push(s("rect", { ...reg, fill: "none", stroke: "#b3261e", "stroke-width": 2, "stroke-dasharray": "5 3" }));
    }
  }
  if (mIdx === a.sel) {
    kids.push(s("rect", { x: off + a.unit[1] * cell, y: off + a.unit[0] * cell, width: cell, height: cell, fill: "#000" }));
  }
  const hit = s("rect", { x: off, y: off, width: size * cell, height: size * cell, fill: "transparent", style: "cursor:crosshair" });
  hit.addEventListener("click", (ev) => {
    const box2 = hit.getBoundingClientRect();
    const j = Math.floor(((ev.clientX - box2.left) / box2.width) * size);
    const i = Math.floor(((ev.clientY - box2.top) / box2.height) * size);
    pick(clamp(i, 0, size - 1), clamp(j, 0, size - 1));
  });
  kids.push(hit);
  const defs = s("defs", {}, s("pattern", { id: "ck-rf-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
    s("rect", { width: 6, height: 6, fill: "#ffffff", "fill-opacity": 0.5 }), s("rect", { width: 3, height: 6, fill: "#ffd33d" })));
  const title = mIdx === 0 ? `input ${size}×${size}` : `after layer ${mIdx}: ${size}×${size}`;
  const caption = mIdx < a.sel ? `region ${clipped.y1 - clipped.y0}×${clipped.x1 - clipped.x0} inside` : mIdx === a.sel ? `unit (${a.unit[0]}, ${a.unit[1]})` : "";
  return h("figure", { class: "ck-panel", style: "margin:0", "data-map": mIdx },
    s("svg", { class: "ck-svg", width: w, height: w, viewBox: `0 0 ${w} ${w}`, role: "img",
      "aria-label": `${title}; ${caption}` }, defs, ...kids),
    h("figcaption", { class: "ck-note" }, h("b", {}, title), caption ? ` — ${caption}` : ""));
}

export default { render };
