// The component's entry point (st.components.v2): Streamlit calls it with what the server sent, links to the
// models' blobs (fetched here) or the bytes themselves; the standalone export
// (explorer.ui.browser_view.offline_html) calls it the same way with the bytes inlined.

import { decodeView, fetchView, linkedView } from "./payload.js";
import { Explorer } from "./view.js";

export { decodeView, decodeModel, digitImage, sequenceOf } from "./payload.js";
export { trace } from "./forward.js";
export { drawingToDigit } from "./drawing.js";
export { explainCell, explanationLines } from "./explain.js";
export { orderUnits } from "./units.js";
export { Explorer };

let current = null; // the explorer the keys go to: the one mounted last
const saved = new Map(); // component key -> what its last explorer showed, restored when the server re-sends

function onKey(e) {
  const t = e.target;
  const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) && t.type !== "range");
  if (e.ctrlKey || e.metaKey || e.altKey || typing || !current) return;
  if (current.key(e)) e.preventDefault();
}

function fromStorage(name) {
  try {
    const v = JSON.parse(sessionStorage.getItem(name) || "null");
    return v && v.state && v.options ? v : null;
  } catch {
    return null;
  }
}

export default function mount(component) {
  const { data, parentElement, setTriggerValue, key } = component;
  if (!data) return undefined;
  let root = parentElement.querySelector(".rx-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "rx-root";
    parentElement.append(root);
  }
  const send = setTriggerValue ? (name, value) => setTriggerValue(name, value) : () => {};
  let explorer = null, gone = false;
  const start = (view) => {
    if (gone) return;
    explorer = new Explorer(root, view, send);
    const stored = key ? fromStorage(`rnn-explorer:${location.pathname}:${key}`) : null;
    if (key && saved.has(key) && saved.get(key).state) explorer.restore(saved.get(key));
    else if (stored) explorer.restoreStored(stored);
    if (key) {
      explorer.memoryKey = `rnn-explorer:${location.pathname}:${key}`;
      explorer.memory = saved.get(key) || {};
      saved.set(key, explorer.memory);
      explorer.remember(true);
    }
    current = explorer;
  };
  const linked = linkedView(data);
  if (linked) {
    if (!root.firstChild) {
      const wait = document.createElement("p");
      wait.className = "rx-note";
      const size = linked.models.reduce((s, m) => s + m.bytes, 0);
      wait.textContent = `Loading the model: its weights and test digits, ${(size / 1e6).toFixed(1)} MB…`;
      root.append(wait);
    }
    fetchView(linked).then(start, (error) => {
      if (gone) return;
      const note = document.createElement("p");
      note.className = "rx-note rx-error";
      note.textContent = `The view could not start: ${error.message}. Reload the page to try again.`;
      root.replaceChildren(note);
    });
  } else {
    start(decodeView(data));
  }
  document.removeEventListener("keydown", onKey);
  document.addEventListener("keydown", onKey);
  return () => {
    gone = true;
    if (!explorer) return;
    explorer.pause();
    if (current === explorer) current = null;
  };
}
