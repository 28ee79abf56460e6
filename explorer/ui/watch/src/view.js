// Watch it read, drawn in the browser: the digit (or a drawing pad), play/pause/step and a row slider, the
// prediction after the rows read, one heatmap per gate, c and h (units by row, image rows by column), and an
// explain panel for any clicked cell. Every number comes from forward.js on the weights the server sent once;
// nothing here asks the server for anything, except M (the next model) and "Look closer below".
//
// Text that comes from outside this file (model names, labels) is only ever set with textContent.

import { drawingToDigit, DrawingError } from "./drawing.js";
import { explainCell, explanationLines } from "./explain.js";
import { cssColour, colour, scaleOf } from "./colours.js";
import { argmax, settledAfter, trace } from "./forward.js";
import { digitImage, sequenceOf } from "./payload.js";
import { CELLS, fmt } from "./cells.js";
import { ORDERS, orderUnits } from "./units.js";

const PAD = 224; // the drawing pad's pixels, as the engine's canvas had them
const STROKE = 18;
const SPEEDS = { normal: 250, slow: 450, fast: 110 };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function select(label, options, value, onChange) {
  const wrap = el("label", "rx-field");
  wrap.append(el("span", "rx-field-label", label));
  const s = el("select");
  for (const [v, text] of options) {
    const o = el("option", null, text);
    o.value = String(v);
    s.append(o);
  }
  s.value = String(value);
  s.addEventListener("change", () => onChange(s.value));
  wrap.append(s);
  return { wrap, input: s };
}

// The cell state's colour range ±r, as the engine's figures take it (figures.panels.cell_colour_range): the 99th
// percentile of |c| (linear between order statistics, as numpy's), at least 0.1.
function cellRange(values) {
  const a = Float64Array.from(values, Math.abs).sort();
  const pos = (a.length - 1) * 0.99, lo = Math.floor(pos);
  const r = Math.max(a[lo] + (a[Math.min(lo + 1, a.length - 1)] - a[lo]) * (pos - lo), 0.1);
  return [-r, r];
}

// minGRU's and minLSTM's candidate and h (> 0, heavy-tailed) on one log colour scale for the view, so the two
// maps read alike: centred on pos(0) = 0.5, from 0.5 / k to 0.5 k, k the 99th percentile of their values over 0.5
// (at least 2).
const POSITIVE_CENTRE = 0.5;

function positiveRange(arrays) {
  const a = Float64Array.from(arrays.flatMap((v) => Array.from(v))).sort();
  const pos = (a.length - 1) * 0.99, lo = Math.floor(pos);
  const p99 = a[lo] + (a[Math.min(lo + 1, a.length - 1)] - a[lo]) * (pos - lo);
  const k = Math.max(p99 / POSITIVE_CENTRE, 2);
  return [POSITIVE_CENTRE / k, POSITIVE_CENTRE * k];
}

// When the answer after the last row was reached, said so that a drawing's "settled after row 1" means something:
// an answer reached on blank rows is the one the model gives before it reads any ink.
function settling(final, settled, inkRow, T) {
  if (settled < inkRow && inkRow <= T) {
    return ` · ${final} from row ${settled} on, before any ink (row ${inkRow}): the strokes never changed its answer`;
  }
  if (settled === 1) return ` · ${final} from row 1 on: it never changed its answer`;
  return ` · settled: ${final} from row ${settled} on`;
}

// The ten probabilities after `row` (1..T): at the last row the final ones, which need no per-row answers.
function probsAfter(tr, row, T) {
  return row === T ? tr.final : tr.probs.subarray((row - 1) * 10, row * 10);
}

// The first row (1..T) of a sequence with a non-zero input; T + 1 if there is none.
function firstInput(seq, T) {
  const width = seq.length / T;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < width; j++) if (seq[t * width + j] !== 0) return t + 1;
  }
  return T + 1;
}

export class Explorer {
  constructor(root, view, send) {
    this.root = root;
    this.models = view.models;
    this.opts = view.options;
    this.send = send || (() => {});
    this.names = this.opts.names || {};
    const first = this.models[0];
    this.T = first.task.T;
    this.count = Math.min(...this.models.map((m) => m.digits.count));
    this.state = {
      source: this.opts.source === "draw" ? "draw" : "test",
      index: Math.min(Math.max(this.opts.digit | 0, 0), Math.max(this.count - 1, 0)),
      row: this.T,
      layer: Math.min(this.opts.layer | 0, first.config.layers - 1),
      direction: Math.min(this.opts.direction | 0, first.config.directions - 1),
      order: ORDERS[this.opts.order] ? this.opts.order : "index",
      speed: SPEEDS[this.opts.speed] ? this.opts.speed : "normal",
    };
    this.timer = null;
    this.image = null; // the 28x28 digit read now
    this.build();
    this.setSource(this.state.source);
  }

  // ---- the page's parts -------------------------------------------------------------------------------

  build() {
    const r = this.root;
    r.replaceChildren();
    r.classList.add("rx");
    if (this.opts.present) r.classList.add(`rx-present-${this.opts.present}`);
    if (this.models.length > 1) r.classList.add("rx-compare");
    const title = el("div", "rx-title");
    this.titleText = el("span", "rx-title-text");
    // The message line sits beside the title, in view above the fold of a 720 px screen: a clamped digit number,
    // an empty drawing.
    this.message = el("span", "rx-message");
    title.append(this.titleText, this.message);
    r.append(title);

    const bar = el("div", "rx-bar");
    const sources = el("div", "rx-tabs");
    this.tabTest = el("button", "rx-tab", "Test digit");
    this.tabDraw = el("button", "rx-tab", "Draw your own");
    this.tabTest.addEventListener("click", () => this.setSource("test"));
    this.tabDraw.addEventListener("click", () => this.setSource("draw"));
    sources.append(this.tabTest, this.tabDraw);
    bar.append(sources);
    this.testControls = el("div", "rx-digit");
    const prev = el("button", "rx-btn", "◀");
    prev.title = "Previous test digit";
    prev.addEventListener("click", () => this.showTest(this.state.index - 1));
    this.number = el("input", "rx-number");
    this.number.type = "number";
    this.number.min = "0";
    this.number.max = String(this.count - 1);
    this.number.setAttribute("aria-label", "Test digit number");
    this.number.addEventListener("change", () => this.typeTest(this.number.value));
    const next = el("button", "rx-btn", "▶");
    next.title = "Next test digit (N)";
    next.addEventListener("click", () => this.showTest(this.state.index + 1));
    const random = el("button", "rx-btn", "Random");
    random.addEventListener("click", () => this.showTest(Math.floor(Math.random() * this.count)));
    this.rangeNote = el("span", "rx-note", `of 0–${this.count - 1}`);
    const classes = [["", "next of class…"], ...Array.from({ length: 10 }, (_, c) => [c, `next ${c}`])];
    const byClass = select("", classes, "", (v) => {
      if (v !== "") this.nextWhere((k) => this.models[0].digits.labels[k] === +v);
      byClass.input.value = "";
    });
    this.testControls.append(prev, this.number, next, random, byClass.wrap, this.rangeNote);
    const predicted = this.models[0].digits.predicted;
    if (predicted) {
      const wrong = el("button", "rx-btn", "Next mistake");
      wrong.title = "The next test digit this model gets wrong";
      wrong.addEventListener("click", () => {
        if (!this.nextWhere((k) => predicted[k] !== this.models[0].digits.labels[k])) {
          this.message.textContent = `${this.models[0].label} gets all ${this.count} digits sent right.`;
        }
      });
      this.testControls.append(wrong);
    }
    bar.append(this.testControls);

    const cfg = this.models[0].config;
    this.inputs = {};
    const add = (name, label, options, parse) => {
      const s = select(label, options, this.state[name], (v) => this.set({ [name]: parse(v) }));
      this.inputs[name] = s.input;
      bar.append(s.wrap);
    };
    if (cfg.layers > 1) add("layer", "Layer", Array.from({ length: cfg.layers }, (_, l) => [l, `layer ${l + 1}`]), Number);
    if (cfg.directions > 1) {
      add("direction", "Direction", (this.opts.directions || ["forward", "backward"]).map((n, d) => [d, n]), Number);
    }
    add("order", "Order units by", Object.entries(ORDERS), String);
    add("speed", "Speed", Object.keys(SPEEDS).map((s) => [s, s]), String);
    if (this.opts.inspect) {
      const look = el("button", "rx-btn rx-inspect", "Look closer below ↓");
      look.title = "Send this digit to the tabs under the view (the server works on it there)";
      look.addEventListener("click", () => this.inspect());
      bar.append(look);
    }
    if (this.opts.keys) bar.append(el("span", "rx-note rx-keys", `keys: ${this.opts.keys}`));
    r.append(bar);

    const main = el("div", "rx-main");
    const left = el("div", "rx-left");
    this.digitBox = el("div", "rx-digit-box");
    this.digitCanvas = el("canvas", "rx-digit-canvas");
    this.digitCanvas.width = 28;
    this.digitCanvas.height = this.T;
    this.digitBox.style.setProperty("--rows", String(this.T));
    this.rowMark = el("div", "rx-row-mark");
    this.digitBox.append(this.digitCanvas, this.rowMark);
    this.padBox = el("div", "rx-pad-box");
    this.pad = el("canvas", "rx-pad");
    this.pad.width = this.pad.height = PAD;
    this.pad.setAttribute("aria-label", "Drawing pad: draw a digit");
    const padTools = el("div", "rx-pad-tools");
    const clear = el("button", "rx-btn", "Clear");
    clear.addEventListener("click", () => this.clearPad());
    this.readsCanvas = el("canvas", "rx-reads");
    this.readsCanvas.width = 28;
    this.readsCanvas.height = 28;
    this.readsCanvas.title = "What the model reads (28 x 28)";
    padTools.append(clear, el("span", "rx-note", "the model reads:"), this.readsCanvas);
    this.padBox.append(this.pad, padTools);
    this.hookPad();
    left.append(this.digitBox, this.padBox);

    const play = el("div", "rx-play");
    this.playButton = el("button", "rx-btn rx-play-btn", "▶ Play");
    this.playButton.title = "Play from row 1 (Space); pressed while playing it pauses";
    this.playButton.addEventListener("click", () => this.toggle());
    const back = el("button", "rx-btn", "◀ row");
    back.title = "One row back (←)";
    back.addEventListener("click", () => this.step(-1));
    const fwd = el("button", "rx-btn", "row ▶");
    fwd.title = "One row forward (→)";
    fwd.addEventListener("click", () => this.step(1));
    play.append(this.playButton, back, fwd);
    this.slider = el("input", "rx-slider");
    this.slider.type = "range";
    this.slider.min = "1";
    this.slider.max = String(this.T);
    this.slider.setAttribute("aria-label", "Rows read");
    this.slider.addEventListener("input", () => {
      this.pause();
      this.setRow(+this.slider.value);
    });
    this.rowText = el("div", "rx-row-text");
    left.append(play, this.slider, this.rowText);
    main.append(left);

    this.columns = el("div", "rx-columns");
    this.views = this.models.map((model) => {
      const col = el("div", "rx-column");
      const head = el("div", "rx-model");
      const name = el("span", "rx-model-name", model.label);
      const guess = el("span", "rx-guess");
      head.append(name, guess);
      const bars = el("div", "rx-bars");
      const barEls = [];
      for (let k = 0; k < 10; k++) {
        const b = el("div", "rx-bar-col");
        const fill = el("div", "rx-bar-fill");
        b.append(fill, el("span", "rx-bar-label", String(k)));
        bars.append(b);
        barEls.push(fill);
      }
      const maps = el("div", "rx-maps");
      col.append(head, bars, maps);
      this.columns.append(col);
      return { model, col, guess, barEls, bars, maps, cards: [] };
    });
    main.append(this.columns);
    r.append(main);
    this.hover = el("div", "rx-hover");
    r.append(this.hover);
    this.panel = el("div", "rx-explain");
    this.panel.hidden = true;
    r.append(this.panel);
  }

  hookPad() {
    const ctx = this.pad.getContext("2d", { willReadFrequently: true });
    this.padCtx = ctx;
    this.clearPad(false);
    let last = null;
    const at = (e) => {
      const box = this.pad.getBoundingClientRect();
      return [((e.clientX - box.left) / box.width) * PAD, ((e.clientY - box.top) / box.height) * PAD];
    };
    const line = (a, b) => {
      ctx.beginPath();
      ctx.moveTo(a[0], a[1]);
      ctx.lineTo(b[0], b[1]);
      ctx.stroke();
    };
    this.pad.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      try {
        this.pad.setPointerCapture(e.pointerId); // the stroke goes on if the pen leaves the pad
      } catch { /* a pointer the browser does not track (a synthetic event) */ }
      last = at(e);
      line(last, last);
      this.padChanged();
    });
    this.pad.addEventListener("pointermove", (e) => {
      if (!last) return;
      const moves = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const p of moves.length ? moves : [e]) {
        const q = at(p);
        line(last, q);
        last = q;
      }
      this.padChanged();
    });
    const end = () => {
      last = null;
    };
    this.pad.addEventListener("pointerup", end);
    this.pad.addEventListener("pointercancel", end);
  }

  clearPad(update = true) {
    const ctx = this.padCtx;
    ctx.fillStyle = "#000000";
    ctx.fillRect(0, 0, PAD, PAD);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = STROKE;
    ctx.lineCap = ctx.lineJoin = "round";
    if (update) this.padChanged();
  }

  // One read per animation frame, however many pointer events came in it.
  padChanged() {
    if (this.padPending) return;
    this.padPending = true;
    requestAnimationFrame(() => {
      this.padPending = false;
      this.readPad();
    });
  }

  readPad() {
    this.remember(true);
    const rgba = this.padCtx.getImageData(0, 0, PAD, PAD).data;
    try {
      this.setImage(drawingToDigit(rgba, PAD, PAD), null, -1);
    } catch (err) {
      if (!(err instanceof DrawingError)) throw err;
      this.setImage(null, null, -1, err.message);
    }
  }

  // ---- what is shown --------------------------------------------------------------------------------

  setSource(source) {
    this.pause();
    this.state.source = source;
    this.tabTest.classList.toggle("rx-on", source === "test");
    this.tabDraw.classList.toggle("rx-on", source === "draw");
    this.testControls.hidden = source !== "test";
    this.padBox.hidden = source !== "draw";
    this.digitBox.hidden = source === "draw";
    if (source === "draw") this.readPad();
    else this.showTest(this.state.index);
  }

  showTest(index) {
    if (!this.count) {
      this.setImage(null, null, 0, "No test digits were sent with this model.");
      return;
    }
    let k = Math.round(Number(index));
    if (!Number.isFinite(k)) k = 0;
    this.state.index = ((k % this.count) + this.count) % this.count; // ◀ at 0 and ▶ at the end wrap around
    this.number.value = String(this.state.index);
    if (this.state.source !== "test") {
      this.setSource("test");
      return;
    }
    const m = this.models[0];
    this.setImage(digitImage(m, this.state.index), m.digits.labels[this.state.index], this.state.index);
  }

  // A number typed into the box: one outside 0..count-1 is clamped to the nearest end, and the message says so.
  typeTest(typed) {
    const k = Math.round(Number(typed));
    if (typed === "" || !Number.isFinite(k)) {
      this.showTest(this.state.index);
      this.message.textContent = `Type a test digit number from 0 to ${this.count - 1}.`;
      return;
    }
    const shown = Math.min(Math.max(k, 0), Math.max(this.count - 1, 0));
    this.showTest(shown);
    if (this.count && shown !== k) {
      this.message.textContent = `The test digits are numbered 0 to ${this.count - 1}: showing #${shown}, ` +
        `the nearest to ${k}.`;
    }
  }

  // The next test digit after the one shown for which test(k) holds; false if there is none.
  nextWhere(test) {
    for (let s = 1; s <= this.count; s++) {
      const k = (this.state.index + s) % this.count;
      if (test(k)) {
        this.showTest(k);
        return true;
      }
    }
    return false;
  }

  // What a re-mount of the same view restores (the choices and the drawing), kept as they change.
  remember(pad = false) {
    if (!this.memory) return;
    this.memory.state = { ...this.state };
    this.memory.options = this.opts;
    if (pad) this.memory.pad = this.padCtx.getImageData(0, 0, PAD, PAD);
    if (this.memoryKey) {
      try { // a reload of the tab finds the view where it was (the drawing too)
        const { state, options } = this.memory;
        sessionStorage.setItem(this.memoryKey, JSON.stringify({ state, options,
          pad: pad ? this.pad.toDataURL() : JSON.parse(sessionStorage.getItem(this.memoryKey) || "{}").pad }));
      } catch { /* storage full or off: only a reload loses the view's place */ }
    }
  }

  // The digit, the drawing and the choices of the view before the server re-sent it; a choice the server's
  // options changed since (the sidebar's layer, say) is taken from them instead.
  restore(saved) {
    const cfg = this.models[0].config;
    const same = (name) => saved.options && saved.options[name] === this.opts[name];
    if (same("digit") && same("source")) {
      this.state.index = Math.min(saved.state.index, Math.max(this.count - 1, 0));
      this.state.source = saved.state.source;
    }
    for (const name of ["layer", "direction", "order", "speed"]) if (same(name)) this.state[name] = saved.state[name];
    this.state.layer = Math.min(this.state.layer, cfg.layers - 1);
    this.state.direction = Math.min(this.state.direction, cfg.directions - 1);
    if (saved.pad) this.padCtx.putImageData(saved.pad, 0, 0);
    for (const [name, input] of Object.entries(this.inputs)) input.value = String(this.state[name]);
    this.setSource(this.state.source);
  }

  // The same from the tab's session storage (a reload): checked, since anything may have been written there.
  restoreStored(stored) {
    const st = stored.state;
    const int = (v) => (Number.isInteger(v) && v >= 0 ? v : 0);
    const state = {
      index: int(st.index), layer: int(st.layer), direction: int(st.direction),
      source: st.source === "draw" ? "draw" : "test",
      order: ORDERS[st.order] ? st.order : "index", speed: SPEEDS[st.speed] ? st.speed : "normal",
    };
    this.restore({ state, options: stored.options });
    if (typeof stored.pad === "string" && stored.pad.startsWith("data:image/png;base64,")) {
      const img = new Image();
      img.onload = () => {
        this.padCtx.drawImage(img, 0, 0, PAD, PAD);
        if (this.state.source === "draw") this.readPad();
      };
      img.src = stored.pad;
    }
  }

  // A new digit: every model traces it (the browser's forward pass), then everything is drawn at the last row.
  setImage(image, label, noiseIndex, message = "") {
    this.pause();
    this.image = image;
    this.label = label;
    this.message.textContent = message;
    this.traces = image ? this.models.map((m) => {
      const seq = sequenceOf(m, image, noiseIndex);
      return { seq, tr: trace(m, seq, m.task.T) };
    }) : null;
    this.state.row = this.T;
    this.drawReads();
    this.layoutMaps();
    this.render();
  }

  set(change) {
    Object.assign(this.state, change);
    if ("speed" in change && this.timer) {
      this.pause();
      this.play();
    }
    if ("layer" in change || "direction" in change || "order" in change) this.layoutMaps();
    this.render();
  }

  // The heatmap cards of the chosen layer and direction, rows in the chosen unit order, one per state. The cards
  // are built when the layer or direction changes; a new digit only refills them.
  layoutMaps() {
    const { layer, direction, order } = this.state;
    this.views.forEach((v, k) => {
      const cfg = v.model.config;
      const l = Math.min(layer, cfg.layers - 1), d = Math.min(direction, cfg.directions - 1);
      v.where = [l, d];
      if (!this.traces) {
        v.maps.replaceChildren();
        v.cards = [];
        v.built = null;
        return;
      }
      if (v.built !== `${l},${d}`) this.buildCards(v);
      const tr = this.traces[k].tr;
      const run = tr.runs[l][d];
      v.order = orderUnits(run.h, tr.T, cfg.hidden, order);
      for (const card of v.cards) {
        const name = card.name;
        card.values = name === "h" ? run.h : name === "c" ? run.c : run.gates[name];
        [card.lo, card.hi] = card.scale === "gate" ? [0, 1] : card.scale === "cell" ? cellRange(card.values) : [-1, 1];
      }
      const positive = v.cards.filter((card) => card.scale === "positive");
      if (positive.length) {
        const range = positiveRange(positive.map((card) => card.values));
        for (const card of positive) [card.lo, card.hi] = range;
      }
    });
  }

  buildCards(v) {
    const cfg = v.model.config;
    v.maps.replaceChildren();
    v.cards = [];
    v.built = v.where.join(",");
    const states = CELLS[cfg.kind].states;
    const n = states.length; // two rows of maps: 3 + 3 (LSTM), 2 + 2 (GRU, minLSTM), 2 + 1 (minGRU); one alone
    v.maps.style.setProperty("--map-cols", String(this.models.length > 1 ? Math.min(n, 3) : Math.ceil(n / 2)));
    for (const name of states) {
      const card = el("div", "rx-card");
      card.append(el("div", "rx-card-title", `${name}: ${this.names[name] || name}`));
      const box = el("div", "rx-map-box");
      const canvas = el("canvas", "rx-map");
      canvas.width = this.T;
      canvas.height = cfg.hidden;
      canvas.dataset.state = name;
      const cursor = el("div", "rx-cursor");
      box.append(canvas, cursor);
      card.append(box);
      v.maps.append(card);
      const entry = { name, canvas, cursor, scale: scaleOf(name, CELLS[cfg.kind]), ctx: canvas.getContext("2d") };
      entry.image = entry.ctx.createImageData(this.T, cfg.hidden);
      this.hookMap(v, entry);
      v.cards.push(entry);
    }
  }

  hookMap(v, entry) {
    const where = (e) => {
      const box = entry.canvas.getBoundingClientRect();
      const cfg = v.model.config;
      const t = Math.min(Math.floor(((e.clientX - box.left) / box.width) * this.T), this.T - 1);
      const k = Math.min(Math.floor(((e.clientY - box.top) / box.height) * cfg.hidden), cfg.hidden - 1);
      return [Math.max(t, 0), v.order[Math.max(k, 0)]];
    };
    entry.canvas.addEventListener("mousemove", (e) => {
      const [t, u] = where(e);
      const value = entry.values[t * v.model.config.hidden + u];
      this.hover.textContent = `${v.model.label} · ${entry.name}[${u}] at row ${t + 1} = ${fmt(value, false)}` +
        " (click to explain)";
    });
    entry.canvas.addEventListener("click", (e) => {
      const [t, u] = where(e);
      this.explain(v, entry.name, u, t);
    });
  }

  drawReads() {
    const show = (canvas, rows, pixels) => {
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(28, rows);
      for (let k = 0; k < 28 * rows; k++) {
        const g = pixels ? Math.round(Math.min(Math.max(pixels[k], 0), 1) * 255) : 0;
        img.data.set([g, g, g, 255], 4 * k);
      }
      ctx.putImageData(img, 0, 0);
    };
    show(this.readsCanvas, 28, this.image);
    show(this.digitCanvas, this.T, this.traces ? this.traces[0].seq : null);
  }

  render() {
    const { row } = this.state;
    const T = this.T;
    this.slider.value = String(row);
    this.playButton.textContent = this.timer ? "❚❚ Pause" : "▶ Play";
    const what = this.state.source === "draw" ? "your drawing" :
      `test digit #${this.state.index}` + (this.label === null || this.label === undefined ? "" : ` (a ${this.label})`);
    const task = this.models[0].task;
    this.titleText.textContent = this.models.map((m) => m.label).join(" and ") + ` reading ${what}` +
      (task.kind === "rows" ? "" : `, ${task.name}`);
    this.rowText.textContent = `rows read: ${row} of ${T}`;
    this.rowMark.style.top = `${((row - 1) / T) * 100}%`;
    this.rowMark.style.height = `${100 / T}%`;
    this.views.forEach((v, k) => {
      if (!this.traces) {
        v.guess.textContent = "";
        v.barEls.forEach((b) => (b.style.height = "0"));
        return;
      }
      const p = probsAfter(this.traces[k].tr, row, T);
      const guess = argmax(p);
      v.guess.textContent = this.verdict(k, row, p);
      v.barEls.forEach((b, c) => {
        b.style.height = `${(100 * p[c]).toFixed(1)}%`;
        b.classList.toggle("rx-lead", c === guess);
      });
      v.bars.dataset.probs = Array.from(p, (x) => x.toFixed(6)).join(",");
      for (const card of v.cards) this.paintMap(v, card, row);
    });
    if (row === T && this.traces && !this.traces.every(({ tr }) => tr.prefixed)) this.settleLater();
    this.remember();
    this.exposeState();
  }

  // What the view says under a model's bars: its answer after `row`; at the last row, whether it is right and from
  // which row on it stopped changing (that clause waits for the per-row answers, see settleLater).
  verdict(k, row, p = probsAfter(this.traces[k].tr, row, this.T)) {
    const { tr, seq } = this.traces[k];
    const T = this.T;
    const guess = argmax(p);
    let text = `after row ${row}: ${guess} (${(100 * p[guess]).toFixed(1)}%)`;
    if (row !== T) return text;
    const final = argmax(tr.final);
    text += this.label === null || this.label === undefined ? "" :
      (final === this.label ? " — correct" : ` — wrong, it is a ${this.label}`);
    return tr.prefixed ? text + settling(final, settledAfter(tr.probs, T), firstInput(seq, T), T) : text;
  }

  // The settling clause needs the answer after every row; a bidirectional model gets those by re-running its
  // backward direction on every prefix. A new digit shown at its last row is drawn first, and the clause is
  // written once the browser has painted it (two frames, then a task), unless another digit came meanwhile.
  settleLater() {
    const traces = this.traces;
    if (this.settling === traces) return;
    this.settling = traces;
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => {
      if (this.settling !== traces) return;
      this.settling = null;
      if (this.traces !== traces || this.state.row !== this.T) return;
      for (const { tr } of traces) void tr.probs; // the per-row answers, computed now
      this.views.forEach((v, k) => (v.guess.textContent = this.verdict(k, this.T)));
      this.exposeState();
    }, 0)));
  }

  // One pixel per (row, unit); rows not read yet (forward) are faded. The backward direction has read the
  // whole digit by the time its heatmap exists: it is drawn whole, with the cursor at the row.
  paintMap(v, card, row) {
    const H = v.model.config.hidden;
    const T = this.T;
    const forward = v.where[1] === 0;
    const img = card.image;
    for (let y = 0; y < H; y++) {
      const u = v.order[y];
      for (let t = 0; t < T; t++) {
        let [r, g, b] = colour(card.scale, card.values[t * H + u], card.lo, card.hi);
        if (forward && t >= row) {
          r = 255 - (255 - r) * 0.15;
          g = 255 - (255 - g) * 0.15;
          b = 255 - (255 - b) * 0.15;
        }
        const p = 4 * (y * T + t);
        img.data[p] = r;
        img.data[p + 1] = g;
        img.data[p + 2] = b;
        img.data[p + 3] = 255;
      }
    }
    card.ctx.putImageData(img, 0, 0);
    card.cursor.style.left = `${((row - 1) / T) * 100}%`;
    card.cursor.style.width = `${100 / T}%`;
  }

  // ---- playing --------------------------------------------------------------------------------------

  setRow(row) {
    this.state.row = Math.min(Math.max(row, 1), this.T);
    this.render();
  }

  step(by) {
    this.pause();
    this.setRow(this.state.row + by);
  }

  play() {
    if (!this.traces) return;
    if (this.state.row >= this.T) this.state.row = 1; // from the top again
    this.timer = setInterval(() => {
      this.setRow(this.state.row + 1);
      if (this.state.row >= this.T) {
        this.pause();
        this.render();
      }
    }, SPEEDS[this.state.speed]);
    this.render();
  }

  pause() {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.playButton) this.playButton.textContent = "▶ Play";
  }

  toggle() {
    if (this.timer) this.pause();
    else this.play();
    this.render();
  }

  key(e) {
    if (e.key === " ") this.toggle();
    else if (e.key === "ArrowRight") this.step(1);
    else if (e.key === "ArrowLeft") this.step(-1);
    else if (e.key === "n" || e.key === "N") this.showTest(this.state.index + 1);
    else if (e.key === "m" || e.key === "M") this.send("key", "m");
    else return false;
    return true;
  }

  inspect() {
    if (this.state.source === "test") this.send("inspect", { index: this.state.index });
    else if (this.image) this.send("inspect", { drawing: Array.from(this.image, (x) => +x.toFixed(6)) });
  }

  // ---- explaining -----------------------------------------------------------------------------------

  explain(v, name, unit, row) {
    const k = this.views.indexOf(v);
    const [layer, direction] = v.where;
    const e = explainCell(v.model, this.traces[k].tr, layer, direction, unit, row);
    this.lastExplanation = e;
    const p = this.panel;
    p.replaceChildren();
    const head = el("div", "rx-explain-head");
    const dir = v.model.config.directions > 1 ? `, ${(this.opts.directions || [])[direction] || direction}` : "";
    const lay = v.model.config.layers > 1 ? `, layer ${layer + 1}` : "";
    head.append(el("strong", null, `${name}[${unit}] at row ${row + 1}`),
      el("span", "rx-note", ` ${v.model.label}${lay}${dir}` + (e.first ? " · first step: the state read is zero" : "")));
    const close = el("button", "rx-btn rx-close", "✕");
    close.title = "Close";
    close.addEventListener("click", () => (p.hidden = true));
    head.append(close);
    p.append(head);
    for (const line of explanationLines(e)) {
      const row = el("div", "rx-line" + (line.name === name ? " rx-focus" : ""));
      row.append(el("div", "rx-eq", line.equation), el("div", "rx-num", line.numbers));
      p.append(row);
    }
    if (!e.recurrent) {
      p.append(el("div", "rx-note rx-explain-note", `${v.model.label} has no W_hh: every gate reads row ` +
        `${row + 1} alone, and h_${direction === 0 ? row : row + 2} enters only the last line. ` +
        "pos(v) = v + 0.5 for v ≥ 0, σ(v) below: the candidate is always positive."));
    }
    const term = e.terms[name];
    if (term) {
      const grid = el("div", "rx-terms");
      const list = (title, items) => {
        const box = el("div");
        box.append(el("div", "rx-terms-title", title));
        for (const it of items) {
          const line = el("div", "rx-term");
          line.append(el("span", null, it.label), el("span", "rx-term-v", fmt(it.value, false)));
          box.append(line);
        }
        return box;
      };
      const prev = direction === 0 ? row : row + 2;
      grid.append(list(`largest terms of W_i${name}·x_${row + 1}`, term.topInput));
      if (e.recurrent) grid.append(list(`largest terms of W_h${name}·h_${prev}`, term.topRecurrent));
      p.append(grid);
    }
    p.hidden = false;
    this.exposeState();
  }

  // What the view computed, for tests that read the numbers out of the page (not off its pixels).
  exposeState() {
    this.root.rnnExplorer = {
      state: { ...this.state, count: this.count, T: this.T },
      traces: this.traces,
      explanation: this.lastExplanation || null,
      image: this.image,
      models: this.models.map((m) => ({ name: m.name, label: m.label, bytes: m.bytes })),
    };
  }
}
