// DOM helpers and the stylesheet shared by the playgrounds. No network, no globals beyond `document`.
//
// The same module runs in two hosts:
//  * JupyterLab (anywidget): `model` is a synced Backbone model; set() + save_changes() reach Python.
//  * the static MyST book: `model` is a plain in-page store whose save_changes()/off() throw
//    "not implemented", and `el` lives inside a shadow root (so styles must be inside `el`).

let counter = 0;
/** A page-unique id prefix (several widgets can share one page). */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Create an element: h("div", {class: "x", onclick: f}, child, "text", ...). */
export function h(tag, attrs = {}, ...children) {
  const node = tag === "svg" || attrs.__svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "__svg" || value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An SVG element (attrs as for h). */
export function s(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, __svg: true }, ...children);
}

// The static book's renderer may run render() again for the same block (React re-runs its effect
// with a fresh model built from the directive's JSON), which would silently undo what the reader
// did. What the reader changed is therefore remembered per host element (the shadow host, which
// survives such re-renders) and replayed. In JupyterLab the synced model itself keeps the state.
const remembered = new WeakMap();

/** Wrap the host model: read with defaults, write several keys then save once (if the host can). */
export function wrapModel(model, defaults, el) {
  const root = el && el.getRootNode ? el.getRootNode() : null;
  const host = root && root !== el && root.host ? root.host : null;
  const memory = host ? (remembered.get(host) || { model: {}, ui: {} }) : { model: {}, ui: {} };
  if (host) remembered.set(host, memory);
  for (const [key, value] of Object.entries(memory.model)) model.set(key, value);
  return {
    get(key) {
      const value = model.get(key);
      return value === undefined || value === null ? defaults[key] : value;
    },
    set(changes) {
      for (const [key, value] of Object.entries(changes)) {
        model.set(key, value);
        memory.model[key] = value;
      }
      try {
        model.save_changes();
      } catch (err) {
        // static book: there is no kernel to save to; the in-page model already holds the value
      }
    },
    on(keys, callback) {
      const handler = () => callback();
      for (const key of keys) model.on(`change:${key}`, handler);
      return () => {
        for (const key of keys) {
          try { model.off(`change:${key}`, handler); } catch (err) { /* static host: no off() */ }
        }
      };
    },
    /** View-only state (not a trait) that should also survive a re-render. */
    ui: memory.ui,
  };
}

export function clamp(value, lo, hi) {
  return Math.min(Math.max(value, lo), hi);
}

/** Parse an int-or-pair setting ("3" | 3 | [3, 4]) into [rows, cols], clamped to bounds. */
export function axisPair(value, bounds, fallback) {
  const pair = Array.isArray(value) ? value : [value, value];
  return pair.slice(0, 2).map((v, i) => {
    const n = Number(v);
    return Number.isInteger(n) ? clamp(n, bounds[0], bounds[1]) : fallback[i];
  });
}

/**
 * A labelled range slider with its value shown: returns {root, input, set(value, max?)}.
 * Keyboard: arrows / PageUp / PageDown / Home / End (native range input).
 */
export function slider({ label, min, max, value, onInput, hint }) {
  const id = uid("ck-s");
  const out = h("output", { class: "ck-val", for: id }, String(value));
  const input = h("input", { type: "range", id, min, max, step: 1, value, "aria-describedby": hint ? `${id}-h` : null });
  input.addEventListener("input", () => {
    out.textContent = input.value;
    onInput(Number(input.value));
  });
  const root = h("div", { class: "ck-field" },
    h("label", { for: id }, label), input, out,
    hint ? h("span", { class: "ck-hint", id: `${id}-h` }, hint) : null);
  return {
    root, input,
    set(v, newMax) {
      if (newMax !== undefined && Number(input.max) !== newMax) input.max = newMax;
      if (Number(input.value) !== v) input.value = v;
      out.textContent = String(v);
    },
  };
}

/** A labelled <select>: returns {root, input, set(value)}. */
export function select({ label, options, value, onChange }) {
  const id = uid("ck-sel");
  const input = h("select", { id },
    options.map(([val, text]) => h("option", { value: val, selected: val === value }, text)));
  input.addEventListener("change", () => onChange(input.value));
  const root = h("div", { class: "ck-field" }, h("label", { for: id }, label), input);
  return { root, input, set(v) { if (input.value !== v) input.value = v; } };
}

/** A labelled checkbox: returns {root, input, set(checked)}. */
export function checkbox({ label, checked, onChange }) {
  const id = uid("ck-cb");
  const input = h("input", { type: "checkbox", id, checked });
  input.addEventListener("change", () => onChange(input.checked));
  const root = h("div", { class: "ck-field ck-check" }, input, h("label", { for: id }, label));
  return { root, input, set(v) { input.checked = !!v; } };
}

/** Format a number for a grid cell (integers as integers, others with 3 significant digits). */
export function fmt(v) {
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(3)).toString();
}

const SUBSCRIPT = { 0: "₀", 1: "₁", 2: "₂", 3: "₃", 4: "₄", 5: "₅", 6: "₆", 7: "₇", 8: "₈", 9: "₉", "-": "₋", "+": "₊", l: "ₗ" };
/** "l-1" -> "ₗ₋₁" for symbols such as r₄ or jₗ₋₁. */
export function sub(text) {
  return String(text).split("").map((ch) => SUBSCRIPT[ch] ?? ch).join("");
}

/** Unicode minus for negatives in prose/formulas. */
export function num(v) {
  return v < 0 ? `−${-v}` : String(v);
}

export const CSS = `
.ck-root { --ck-ink: #1b1f24; --ck-muted: #57606a; --ck-line: #8c959f; --ck-bg: #ffffff;
  --ck-panel: #f6f8fa; --ck-accent: #0b5fad; --ck-tap: #ffd33d; --ck-pad: #e7edf3; --ck-bad: #b3261e;
  --ck-cell: 2.3em;
  color: var(--ck-ink); background: var(--ck-bg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  border: 1px solid #d0d7de; border-radius: 8px; padding: 12px; box-sizing: border-box; max-width: 100%;
  overflow-wrap: anywhere; }
.ck-root *, .ck-root *::before, .ck-root *::after { box-sizing: border-box; }
.ck-root [hidden] { display: none !important; }
.ck-root h3 { font-size: 1.05em; margin: 0 0 6px; }
.ck-root h4 { font-size: .95em; margin: 0 0 4px; color: var(--ck-ink); }
.ck-title { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; margin-bottom: 8px; }
.ck-title h3 { margin: 0; }
.ck-sub { color: var(--ck-muted); font-size: .9em; }
.ck-controls { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 4px 18px;
  background: var(--ck-panel); border: 1px solid #d8dee4; border-radius: 6px; padding: 8px 10px; margin-bottom: 10px; }
.ck-controls fieldset { border: 0; margin: 0; padding: 0; min-width: 0; }
.ck-controls legend { font-weight: 600; padding: 0; margin-bottom: 2px; font-size: .92em; }
.ck-field { display: grid; grid-template-columns: 9.6em minmax(0, 1fr) 2.2em; align-items: center; gap: 6px; min-height: 30px; }
.ck-field label { font-size: .92em; }
.ck-field.ck-check { grid-template-columns: auto 1fr; }
.ck-field select { grid-column: 2 / 4; font: inherit; padding: 2px 4px; min-height: 28px; }
.ck-field input[type=range] { width: 100%; min-width: 0; accent-color: var(--ck-accent); min-height: 24px; }
.ck-field input[type=checkbox] { width: 18px; height: 18px; accent-color: var(--ck-accent); }
.ck-val { font-variant-numeric: tabular-nums; font-weight: 600; text-align: right; }
.ck-hint { grid-column: 1 / -1; color: var(--ck-muted); font-size: .82em; margin-top: -4px; }
.ck-root button { font: inherit; min-height: 30px; padding: 3px 10px; border: 1px solid #8c959f; border-radius: 5px;
  background: #fff; color: var(--ck-ink); cursor: pointer; }
.ck-root button:hover { background: #eef2f6; }
.ck-root button[aria-pressed=true] { background: var(--ck-accent); color: #fff; border-color: var(--ck-accent); }
.ck-root :focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.ck-row { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; }
.ck-presets { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.ck-presets span { font-size: .9em; color: var(--ck-muted); }
.ck-formula { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em;
  background: var(--ck-panel); border-left: 4px solid var(--ck-accent); padding: 6px 10px; margin: 8px 0; overflow-x: auto; }
.ck-formula div { white-space: pre-wrap; }
.ck-formula b { font-weight: 700; }
.ck-problems { border: 2px solid var(--ck-bad); border-left-width: 8px; background: #fff5f5; color: #5c0f0a;
  padding: 6px 10px; margin: 8px 0; border-radius: 4px; }
.ck-problems:empty { display: none; }
.ck-problems p { margin: 2px 0; }
.ck-problems p::before { content: "⚠ "; font-weight: 700; }
.ck-note { color: var(--ck-muted); font-size: .88em; margin: 4px 0; }
.ck-panels { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.ck-panel { min-width: 0; max-width: 100%; }
.ck-scroll { overflow-x: auto; max-width: 100%; padding: 3px; }
table.ck-grid { border-collapse: separate; border-spacing: 2px; font-variant-numeric: tabular-nums; font-size: .85em; }
table.ck-grid td, table.ck-grid th { min-width: var(--ck-cell); height: var(--ck-cell); text-align: center; padding: 0 2px;
  border: 1px solid #afb8c1; border-radius: 3px; position: relative; }
table.ck-grid th { border: 0; color: var(--ck-muted); font-weight: 400; font-size: .8em; min-width: 1.2em; }
table.ck-grid caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 3px; font-size: 1.05em; white-space: nowrap; }
td.ck-pad { background: repeating-linear-gradient(135deg, var(--ck-pad) 0 4px, #ffffff 4px 8px); color: #3d4650; font-style: italic; border-style: solid; border-color: #8c959f; }
td.ck-hole { border-style: dashed; color: #8c959f; }
td.ck-dim { opacity: .45; }
td.ck-win { box-shadow: inset 0 0 0 2px #6e7781; }
td.ck-tap { background: var(--ck-tap); color: #000; font-weight: 700; font-style: normal; border: 3px solid #000; }
td.ck-tap::after { content: attr(data-w); position: absolute; right: 1px; bottom: -1px; font-size: .62em; font-weight: 600; line-height: 1; }
td.ck-gap { border-style: dotted; color: #8c959f; }
td.ck-done { background: #dbeafe; }
td.ck-now { background: var(--ck-tap); border: 3px solid #000; font-weight: 700; }
td.ck-todo { color: #8c959f; }
td button.ck-cellbtn { all: unset; display: block; width: 100%; height: 100%; cursor: pointer; text-align: center; min-height: calc(var(--ck-cell) - 4px); line-height: calc(var(--ck-cell) - 4px); }
td button.ck-cellbtn:focus-visible { outline: 3px solid #0969da; }
.ck-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: .82em; color: var(--ck-muted); margin: 6px 0; list-style: none; padding: 0; }
.ck-legend li { display: flex; align-items: center; gap: 5px; }
.ck-swatch { display: inline-block; white-space: nowrap; min-width: 1.6em; padding: 0 2px; flex: none; height: 1.2em; border: 1px solid #afb8c1; border-radius: 2px; font-size: .8em; text-align: center; line-height: 1.1em; color: #000; }
.ck-sum { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; margin: 6px 0; line-height: 1.6; }
.ck-sum .ck-term { white-space: nowrap; }
.ck-stepper { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; margin: 6px 0 10px; }
.ck-stepper .ck-field { flex: 1 1 220px; }
.ck-big { font-size: 1.15em; font-weight: 700; }
.ck-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.ck-svg { display: block; max-width: none; }
.ck-svg text { font: 11px system-ui, sans-serif; fill: #1b1f24; }
table.ck-table { border-collapse: collapse; font-size: .86em; font-variant-numeric: tabular-nums; }
table.ck-table th, table.ck-table td { border-bottom: 1px solid #d8dee4; padding: 3px 4px; text-align: center; white-space: nowrap; }
table.ck-table th { background: var(--ck-panel); font-weight: 600; }
table.ck-table tr.ck-selected td { background: #fff8c5; font-weight: 600; }
table.ck-table tr.ck-selected td:first-child { box-shadow: inset 4px 0 0 #000; }
table.ck-table input, table.ck-table select { font: inherit; width: 3em; min-height: 28px; }
table.ck-table select { width: auto; }
@media (max-width: 560px) {
  .ck-root { --ck-cell: 1.9em; padding: 8px; font-size: 13px; }
  .ck-controls { grid-template-columns: 1fr; }
  .ck-field { grid-template-columns: 8.4em minmax(0, 1fr) 2em; }
}
`;

/** Put the stylesheet inside `el` (works in a shadow root and in JupyterLab alike). */
export function mount(el, className) {
  // data-lm-suppress-shortcuts: JupyterLab (Lumino) would otherwise treat keys pressed on our
  // controls (arrows on a slider, say) as notebook shortcuts, and keyboard users could not use them.
  const root = h("div", { class: `ck-root ${className}`, "data-lm-suppress-shortcuts": "true" });
  // ...and its notebook would still swallow arrow keys (preventDefault) on the way up. Keys pressed
  // on our controls stay ours, except Escape and Shift/Ctrl+Enter, which keep their notebook meaning.
  root.addEventListener("keydown", (event) => {
    const notebookKey = event.key === "Escape" || (event.key === "Enter" && (event.shiftKey || event.ctrlKey));
    if (!notebookKey) event.stopPropagation();
  });
  el.replaceChildren(h("style", {}, CSS), root);
  return root;
}
