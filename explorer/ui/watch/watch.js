// src/payload.js
var ROWS = 28;
var text = new TextDecoder();
function u32(bytes, at) {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
}
function floats(bytes, at, n) {
  const start = bytes.byteOffset + at;
  if (start % 4 === 0) return new Float32Array(bytes.buffer, start, n);
  return new Float32Array(bytes.slice(at, at + 4 * n).buffer);
}
function decodeModel(bytes) {
  if (text.decode(bytes.subarray(0, 4)) !== "RNNX") throw new Error("not an RNN Explorer model blob");
  const length = u32(bytes, 4);
  const header = JSON.parse(text.decode(bytes.subarray(8, 8 + length)));
  const start = 8 + length + (4 - (8 + length) % 4) % 4;
  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  let nFloats = header.tensors.reduce((s, t) => s + size(t.shape), 0);
  if (header.noise) nFloats += size(header.noise.shape);
  const all = floats(bytes, start, nFloats);
  const byName = {};
  for (const t of header.tensors) byName[t.name] = all.subarray(t.offset, t.offset + size(t.shape));
  const inSize = (name) => header.tensors.find((t) => t.name === name).shape[1];
  const { layers, directions } = header.config;
  const weights = [];
  for (let l = 0; l < layers; l++) {
    const dirs = [];
    for (let d = 0; d < directions; d++) {
      const sfx = `_l${l}` + (d ? "_reverse" : "");
      dirs.push({
        wih: byName[`weight_ih${sfx}`],
        bih: byName[`bias_ih${sfx}`],
        // null for a cell without W_hh (minGRU, minLSTM): the blob carries only the tensors the model has
        whh: byName[`weight_hh${sfx}`] ?? null,
        bhh: byName[`bias_hh${sfx}`] ?? null,
        inSize: inSize(`weight_ih${sfx}`)
      });
    }
    weights.push(dirs);
  }
  const count = header.digits.count;
  const pixels = bytes.subarray(start + 4 * nFloats, start + 4 * nFloats + count * ROWS * ROWS);
  let noise = null;
  if (header.noise) noise = all.subarray(header.noise.offset, header.noise.offset + size(header.noise.shape));
  return {
    name: header.name,
    label: header.label,
    config: header.config,
    task: header.task,
    weights,
    head: { w: byName["head.weight"], b: byName["head.bias"] },
    digits: { count, labels: header.digits.labels, pixels },
    noise,
    noiseInfo: header.noise,
    bytes: bytes.length
  };
}
function decodeView(bytes) {
  if (text.decode(bytes.subarray(0, 4)) !== "RNXV") throw new Error("not an RNN Explorer view");
  const length = u32(bytes, 4);
  const options = JSON.parse(text.decode(bytes.subarray(8, 8 + length)));
  let at = 8 + length;
  const n = u32(bytes, at);
  at += 4;
  const models = [];
  for (let k = 0; k < n; k++) {
    const len = u32(bytes, at);
    models.push(decodeModel(bytes.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  return { options, models };
}
var fetched = /* @__PURE__ */ new Map();
var KEEP = 8;
function modelAt(link) {
  if (!fetched.has(link.url)) {
    const loading = fetch(link.url, { cache: "force-cache" }).then(async (r) => {
      if (!r.ok) throw new Error(`the server answered ${r.status} for the model`);
      const unzipped = new Response(r.body.pipeThrough(new DecompressionStream("gzip")));
      const bytes = new Uint8Array(await unzipped.arrayBuffer());
      if (bytes.length !== link.bytes) throw new Error("the model arrived incomplete");
      return decodeModel(bytes);
    });
    loading.catch(() => fetched.delete(link.url));
    fetched.set(link.url, loading);
    while (fetched.size > KEEP) fetched.delete(fetched.keys().next().value);
  }
  return fetched.get(link.url);
}
function linkedView(bytes) {
  if (text.decode(bytes.subarray(0, 4)) !== "RNXL") return null;
  return JSON.parse(text.decode(bytes.subarray(4)));
}
async function fetchView(data) {
  return { options: data.options, models: await Promise.all(data.models.map(modelAt)) };
}
function digitImage(model, index) {
  const px = model.digits.pixels.subarray(index * ROWS * ROWS, (index + 1) * ROWS * ROWS);
  const out = new Float32Array(ROWS * ROWS);
  for (let k = 0; k < out.length; k++) out[k] = px[k] / 255;
  return out;
}
function sequenceOf(model, image, noiseIndex) {
  const { kind, delay, at, T } = model.task;
  const seq = new Float32Array(T * ROWS);
  const digitStart = at === "before" ? delay : 0;
  seq.set(image, digitStart * ROWS);
  if (kind === "noise") {
    const block = delay * ROWS;
    const k = noiseIndex < 0 || noiseIndex >= model.digits.count ? model.noiseInfo.drawing : noiseIndex;
    seq.set(model.noise.subarray(k * block, (k + 1) * block), at === "before" ? 0 : ROWS * ROWS);
  }
  return seq;
}

// src/drawing.js
var INK_THRESHOLD = 0.1;
var MIN_EXTENT = 0.15;
var BOX = 20;
var CENTRE = 14;
var DrawingError = class extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
};
function roundHalfEven(v) {
  const f = Math.floor(v);
  const diff = v - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
function extractInk(rgba, w, h) {
  const n = w * h;
  const alpha = new Float32Array(n);
  let minAlpha = 1;
  for (let k = 0; k < n; k++) {
    alpha[k] = rgba[4 * k + 3] / 255;
    if (alpha[k] < minAlpha) minAlpha = alpha[k];
  }
  if (minAlpha < 1) return alpha;
  const lum = new Float32Array(n);
  const c = [0.299, 0.587, 0.114].map(Math.fround);
  for (let k = 0; k < n; k++) {
    const r = Math.fround(rgba[4 * k] / 255), g = Math.fround(rgba[4 * k + 1] / 255);
    const b = Math.fround(rgba[4 * k + 2] / 255);
    lum[k] = Math.fround(Math.fround(Math.fround(r * c[0]) + Math.fround(g * c[1])) + Math.fround(b * c[2]));
  }
  return lum;
}
function axisWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const invscale = scale >= 1 ? 1 / scale : 1;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = [];
    let total = 0;
    for (let j = 0; j < xsize; j++) {
      const x = Math.abs((j + xmin - center + 0.5) * invscale);
      const v = x < 1 ? 1 - x : 0;
      w.push(v);
      total += v;
    }
    rows.push({ xmin, w: total !== 0 ? w.map((v) => v / total) : w });
  }
  return rows;
}
function resize(src, h, w, outH, outW) {
  const wx = axisWeights(w, outW), wy = axisWeights(h, outH);
  const tmp = new Float64Array(h * outW);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      const { xmin, w: ws } = wx[x];
      let s = 0;
      for (let j = 0; j < ws.length; j++) s += ws[j] * src[y * w + xmin + j];
      tmp[y * outW + x] = s;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const { xmin, w: ws } = wy[y];
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let j = 0; j < ws.length; j++) s += ws[j] * tmp[(xmin + j) * outW + x];
      out[y * outW + x] = Math.min(Math.max(s, 0), 1);
    }
  }
  return out;
}
function centreOfMass(img, h, w) {
  let mass = 0, cy = 0, cx = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = img[y * w + x];
      mass += v;
      cy += v * y;
      cx += v * x;
    }
  }
  return [cy / mass, cx / mass];
}
function drawingToDigit(rgba, width, height) {
  const ink = extractInk(rgba, width, height);
  let r0 = -1, r1 = -1, c0 = width, c1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = y * width + x;
      if (ink[k] < INK_THRESHOLD) {
        ink[k] = 0;
        continue;
      }
      if (r0 < 0) r0 = y;
      r1 = y;
      if (x < c0) c0 = x;
      if (x > c1) c1 = x;
    }
  }
  if (r0 < 0) throw new DrawingError("empty", "The drawing is empty: draw a digit first.");
  const extent = Math.max((r1 - r0 + 1) / height, (c1 - c0 + 1) / width);
  if (extent < MIN_EXTENT) {
    throw new DrawingError(
      "small",
      `The drawing spans ${roundHalfEven(extent * 100)}% of the canvas: draw a larger digit, most of the canvas tall.`
    );
  }
  const h = r1 - r0 + 1, w = c1 - c0 + 1;
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[y * w + x] = ink[(r0 + y) * width + c0 + x];
  const big = Math.max(h, w);
  const sh = Math.max(1, roundHalfEven(h * BOX / big)), sw = Math.max(1, roundHalfEven(w * BOX / big));
  const digit = resize(crop, h, w, sh, sw);
  let peak = 0;
  for (const v of digit) peak = Math.max(peak, v);
  for (let k = 0; k < digit.length; k++) digit[k] = Math.fround(digit[k] / peak);
  const [cy, cx] = centreOfMass(digit, sh, sw);
  const top2 = Math.min(Math.max(roundHalfEven(CENTRE - cy), 0), 28 - sh);
  const left = Math.min(Math.max(roundHalfEven(CENTRE - cx), 0), 28 - sw);
  const out = new Float32Array(28 * 28);
  for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) out[(top2 + y) * 28 + left + x] = digit[y * sw + x];
  return out;
}

// src/cells.js
var sigmoid = (v) => 1 / (1 + Math.exp(-v));
var positive = (v) => v >= 0 ? v + 0.5 : sigmoid(v);
var plainPre = (p) => p.x + p.bx + (p.h + p.bh);
var inputPre = (p) => p.x + p.bx;
var CELLS = {
  rnn: {
    gates: [],
    states: ["h"],
    nonlinearity: { h: "tanh" },
    pre: plainPre,
    step(xp, a, hPrev, cPrev, H) {
      const h = new Float64Array(H);
      for (let j = 0; j < H; j++) h[j] = Math.tanh(xp[j] + a[j]);
      return { h, gates: {} };
    },
    // h_t = tanh(...) is the sum itself: its explanation is its one "gate" h.
    unit: (v) => ({ h: v.h }),
    combine: () => []
  },
  lstm: {
    gates: ["i", "f", "g", "o"],
    states: ["i", "f", "g", "o", "c", "h"],
    nonlinearity: { i: "sigmoid", f: "sigmoid", g: "tanh", o: "sigmoid" },
    pre: plainPre,
    step(xp, a, hPrev, cPrev, H) {
      const i = new Float64Array(H), f = new Float64Array(H), g = new Float64Array(H), o = new Float64Array(H);
      const c = new Float64Array(H), h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        i[j] = sigmoid(xp[j] + a[j]);
        f[j] = sigmoid(xp[H + j] + a[H + j]);
        g[j] = Math.tanh(xp[2 * H + j] + a[2 * H + j]);
        o[j] = sigmoid(xp[3 * H + j] + a[3 * H + j]);
        c[j] = f[j] * cPrev[j] + i[j] * g[j];
        h[j] = o[j] * Math.tanh(c[j]);
      }
      return { h, c, gates: { i, f, g, o } };
    },
    unit(v) {
      const c = v.f * v.cPrev + v.i * v.g;
      return { c, h: v.o * Math.tanh(c) };
    },
    combine: (v) => [
      {
        name: "c",
        text: "c_t = f_t \xB7 c_prev + i_t \xB7 g_t",
        numbers: [v.f, v.cPrev, v.i, v.g],
        value: v.c,
        filled: `${fmt(v.f)} \xB7 ${fmt(v.cPrev)} + ${fmt(v.i)} \xB7 ${fmt(v.g)}`
      },
      {
        name: "h",
        text: "h_t = o_t \xB7 tanh(c_t)",
        numbers: [v.o, v.c],
        value: v.h,
        filled: `${fmt(v.o)} \xB7 tanh(${fmt(v.c)})`
      }
    ]
  },
  gru: {
    gates: ["r", "z", "n"],
    states: ["r", "z", "n", "h"],
    nonlinearity: { r: "sigmoid", z: "sigmoid", n: "tanh" },
    // n = tanh(W_in x + b_in + r · (W_hn h + b_hn)): the reset gate scales the whole recurrent part.
    pre: (p, gate, values) => gate === "n" ? p.x + p.bx + values.r * (p.h + p.bh) : plainPre(p),
    step(xp, a, hPrev, cPrev, H) {
      const r = new Float64Array(H), z = new Float64Array(H), n = new Float64Array(H), h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        r[j] = sigmoid(xp[j] + a[j]);
        z[j] = sigmoid(xp[H + j] + a[H + j]);
        n[j] = Math.tanh(xp[2 * H + j] + r[j] * a[2 * H + j]);
        h[j] = (1 - z[j]) * n[j] + z[j] * hPrev[j];
      }
      return { h, gates: { r, z, n } };
    },
    unit: (v) => ({ h: (1 - v.z) * v.n + v.z * v.hPrev }),
    combine: (v) => [
      {
        name: "h",
        text: "h_t = (1 \u2212 z_t) \xB7 n_t + z_t \xB7 h_prev",
        numbers: [v.z, v.n, v.hPrev],
        value: v.h,
        filled: `(1 \u2212 ${fmt(v.z)}) \xB7 ${fmt(v.n)} + ${fmt(v.z)} \xB7 ${fmt(v.hPrev)}`
      }
    ]
  },
  // h_t = (1 − z) h_prev + z n: the update gate z is the share of the candidate taken (GRU's z is the share kept).
  mingru: {
    gates: ["z", "n"],
    states: ["z", "n", "h"],
    nonlinearity: { z: "sigmoid", n: "positive" },
    scales: { n: "positive", h: "positive" },
    // both > 0 and unbounded: colours.js
    recurrent: false,
    pre: inputPre,
    step(xp, a, hPrev, cPrev, H) {
      const z = new Float64Array(H), n = new Float64Array(H), h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        z[j] = sigmoid(xp[j]);
        n[j] = positive(xp[H + j]);
        h[j] = (1 - z[j]) * hPrev[j] + z[j] * n[j];
      }
      return { h, gates: { z, n } };
    },
    unit: (v) => ({ h: (1 - v.z) * v.hPrev + v.z * v.n }),
    combine: (v) => [
      {
        name: "h",
        text: "h_t = (1 \u2212 z_t) \xB7 h_prev + z_t \xB7 n_t",
        numbers: [v.z, v.hPrev, v.n],
        value: v.h,
        filled: `(1 \u2212 ${fmt(v.z)}) \xB7 ${fmt(v.hPrev)} + ${fmt(v.z)} \xB7 ${fmt(v.n)}`
      }
    ]
  },
  // h_t = f/(f + i) h_prev + i/(f + i) g: the two gates, normalised, share h between the old state and g.
  minlstm: {
    gates: ["f", "i", "g"],
    states: ["f", "i", "g", "h"],
    nonlinearity: { f: "sigmoid", i: "sigmoid", g: "positive" },
    scales: { g: "positive", h: "positive" },
    // both > 0 and unbounded: colours.js
    recurrent: false,
    pre: inputPre,
    step(xp, a, hPrev, cPrev, H) {
      const f = new Float64Array(H), i = new Float64Array(H), g = new Float64Array(H), h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        f[j] = sigmoid(xp[j]);
        i[j] = sigmoid(xp[H + j]);
        g[j] = positive(xp[2 * H + j]);
        const total = f[j] + i[j];
        h[j] = f[j] / total * hPrev[j] + i[j] / total * g[j];
      }
      return { h, gates: { f, i, g } };
    },
    unit: (v) => ({ h: v.f / (v.f + v.i) * v.hPrev + v.i / (v.f + v.i) * v.g }),
    combine: (v) => [
      {
        name: "h",
        text: "h_t = f_t / (f_t + i_t) \xB7 h_prev + i_t / (f_t + i_t) \xB7 g_t",
        numbers: [v.f, v.i, v.hPrev, v.g],
        value: v.h,
        filled: `${fmt(v.f)} / (${fmt(v.f)} + ${fmt(v.i)}) \xB7 ${fmt(v.hPrev)} + ${fmt(v.i)} / (${fmt(v.f)} + ${fmt(v.i)}) \xB7 ${fmt(v.g)}`
      }
    ]
  }
};
var apply = { sigmoid, tanh: Math.tanh, positive };
var SYMBOLS = { sigmoid: "\u03C3", tanh: "tanh", positive: "pos" };
function fmt(v, paren = true) {
  if (!Number.isFinite(v)) return String(v);
  let s = Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2);
  if (!s.includes("e") && s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  if (s === "-0") s = "0";
  const t = s.replace("-", "\u2212");
  return paren && v < 0 && t !== "0" ? `(${t})` : t;
}

// src/explain.js
var TOP = 5;
function inputLabel(layer, directions, H, m) {
  if (layer === 0) return `pixel ${m + 1}`;
  const below = `h^${layer}`;
  if (directions === 1) return `${below}[${m}]`;
  return m < H ? `${below} fwd[${m}]` : `${below} bwd[${m - H}]`;
}
function top(terms, label) {
  const idx = Array.from(terms.keys()).sort((a, b) => Math.abs(terms[b]) - Math.abs(terms[a]) || a - b);
  return idx.slice(0, TOP).map((m) => ({ label: label(m), value: terms[m] }));
}
function explainCell(model, tr, layer, direction, unit, row) {
  const { kind, hidden: H, directions } = model.config;
  const cell = CELLS[kind];
  const run = tr.runs[layer][direction];
  const w = model.weights[layer][direction];
  const T = tr.T;
  const previous = direction === 0 ? row - 1 : row + 1;
  const first = previous < 0 || previous >= T;
  const hPrevVec = first ? new Float64Array(H) : run.h.subarray(previous * H, (previous + 1) * H);
  const x = run.input.subarray(row * w.inSize, (row + 1) * w.inSize);
  const names = cell.gates.length ? cell.gates : ["h"];
  const recurrent = cell.recurrent !== false;
  const values = {};
  const terms = {};
  names.forEach((name, g) => {
    const r = g * H + unit;
    const inputTerms = new Float64Array(w.inSize), recurrentTerms = new Float64Array(recurrent ? H : 0);
    let xs = 0, hs = 0;
    for (let m = 0; m < w.inSize; m++) xs += inputTerms[m] = w.wih[r * w.inSize + m] * x[m];
    for (let m = 0; m < recurrentTerms.length; m++) hs += recurrentTerms[m] = w.whh[r * H + m] * hPrevVec[m];
    const parts = { x: xs, bx: w.bih[r], h: recurrent ? hs : null, bh: recurrent ? w.bhh[r] : null };
    const pre = cell.pre(parts, name, values);
    const nonlinearity = cell.nonlinearity[name];
    values[name] = apply[nonlinearity](pre);
    terms[name] = {
      ...parts,
      reset: name === "n" && kind === "gru" ? values.r : null,
      pre,
      nonlinearity,
      value: values[name],
      topInput: top(inputTerms, (m) => inputLabel(layer, directions, H, m)),
      topRecurrent: top(recurrentTerms, (m) => `h[${m}]`)
    };
  });
  const hPrev = hPrevVec[unit];
  const cPrev = run.c ? first ? 0 : run.c[previous * H + unit] : null;
  const v = { ...values, hPrev, cPrev };
  Object.assign(v, cell.unit(v));
  return {
    kind,
    layer,
    direction,
    unit,
    row,
    first,
    recurrent,
    terms,
    hPrev,
    cPrev,
    c: v.c ?? null,
    h: v.h,
    combined: cell.combine(v)
  };
}
function explanationLines(e) {
  const t = e.row + 1;
  const prev = e.direction === 0 ? t - 1 : t + 1;
  const x = e.layer === 0 ? `x_${t}` : `h^${e.layer}_${t}`;
  const j = `[${e.unit}]`;
  const lines = [];
  for (const [name, term] of Object.entries(e.terms)) {
    const f = SYMBOLS[term.nonlinearity];
    let rec = e.recurrent ? ` + W_h${name}${j}\xB7h_${prev} + b_h${name}${j}` : "";
    let recNumbers = e.recurrent ? ` + ${fmt(term.h)} + ${fmt(term.bh)}` : "";
    if (term.reset !== null) {
      rec = ` + r_${t}${j}\xB7(${rec.slice(3)})`;
      recNumbers = ` + ${fmt(term.reset)} \xB7 (${recNumbers.slice(3)})`;
    }
    lines.push({
      name,
      equation: `${name}_${t}${j} = ${f}(W_i${name}${j}\xB7${x} + b_i${name}${j}${rec})`,
      numbers: `= ${f}(${fmt(term.x)} + ${fmt(term.bx)}${recNumbers}) = ${f}(${fmt(term.pre, false)}) = ` + fmt(term.value, false)
    });
  }
  for (const c of e.combined) {
    lines.push({
      name: c.name,
      equation: c.text.replaceAll("_t", `_${t}`).replace("prev", `${prev}`),
      numbers: `= ${c.filled} = ${fmt(c.value, false)}`
    });
  }
  return lines;
}

// src/colours.js
var SCALES = {
  gate: [
    "#440154",
    "#482878",
    "#3e4989",
    "#31688e",
    "#26828e",
    "#1f9e89",
    "#35b779",
    "#6ece58",
    "#b5de2b",
    "#fde725"
  ],
  signed: [
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f"
  ],
  cell: [
    "#276419",
    "#4d9221",
    "#7fbc41",
    "#b8e186",
    "#e6f5d0",
    "#f7f7f7",
    "#fde0ef",
    "#f1b6da",
    "#de77ae",
    "#c51b7d",
    "#8e0152"
  ]
};
var rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
SCALES.positive = SCALES.signed;
var LUTS = Object.fromEntries(
  Object.entries(SCALES).map(([name, stops]) => {
    const c = stops.map(rgb);
    const lut = new Uint8ClampedArray(256 * 3);
    for (let k = 0; k < 256; k++) {
      const p = k / 255 * (c.length - 1);
      const lo = Math.min(Math.floor(p), c.length - 2);
      const f = p - lo;
      for (let ch = 0; ch < 3; ch++) lut[3 * k + ch] = Math.round(c[lo][ch] * (1 - f) + c[lo + 1][ch] * f);
    }
    return [name, lut];
  })
);
function scaleOf(name, cell) {
  if (cell && cell.scales && cell.scales[name]) return cell.scales[name];
  if (name === "c") return "cell";
  return name === "h" || name === "g" || name === "n" ? "signed" : "gate";
}
function colour(scale, v, lo, hi) {
  if (scale === "positive") [v, lo, hi] = [Math.log(Math.max(v, lo)), Math.log(lo), Math.log(hi)];
  const k = Math.round(Math.min(Math.max((v - lo) / (hi - lo || 1), 0), 1) * 255);
  const lut = LUTS[scale];
  return [lut[3 * k], lut[3 * k + 1], lut[3 * k + 2]];
}

// src/forward.js
function affine(W, b, x, xOff, rows, cols, y, yOff = 0) {
  const end = cols - cols % 4;
  for (let r = 0; r < rows; r++) {
    const w = r * cols;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let m = 0; m < end; m += 4) {
      s0 += W[w + m] * x[xOff + m];
      s1 += W[w + m + 1] * x[xOff + m + 1];
      s2 += W[w + m + 2] * x[xOff + m + 2];
      s3 += W[w + m + 3] * x[xOff + m + 3];
    }
    for (let m = end; m < cols; m++) s0 += W[w + m] * x[xOff + m];
    y[yOff + r] = b[r] + (s0 + s1) + (s2 + s3);
  }
}
function projections(w, input, T) {
  const GH = w.bih.length;
  const xp = new Float64Array(T * GH);
  for (let t = 0; t < T; t++) affine(w.wih, w.bih, input, t * w.inSize, GH, w.inSize, xp, t * GH);
  return xp;
}
function runDirection(cell, w, xp, T, H, reverse) {
  const G = Math.max(cell.gates.length, 1);
  const recurrent = cell.recurrent !== false;
  const out = { h: new Float64Array(T * H), gates: {} };
  if (recurrent) out.a = new Float64Array(T * G * H);
  if (cell.states.includes("c")) out.c = new Float64Array(T * H);
  for (const g of cell.gates) out.gates[g] = new Float64Array(T * H);
  let h = new Float64Array(H), c = new Float64Array(H);
  const a = recurrent ? new Float64Array(G * H) : null;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    if (recurrent) affine(w.whh, w.bhh, h, 0, G * H, H, a);
    const step = cell.step(xp.subarray(t * G * H, (t + 1) * G * H), a, h, c, H);
    if (recurrent) out.a.set(a, t * G * H);
    for (const g of cell.gates) out.gates[g].set(step.gates[g], t * H);
    out.h.set(step.h, t * H);
    if (out.c) out.c.set(step.c, t * H);
    h = step.h;
    if (step.c) c = step.c;
  }
  return out;
}
function affineMany(W, b, x, first, n, rows, cols, y) {
  const pairs = rows - rows % 2;
  let p = first;
  for (; p + 4 <= n; p += 4) {
    const x0 = p * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
    const y0 = p * rows, y1 = y0 + rows, y2 = y1 + rows, y3 = y2 + rows;
    for (let r = 0; r < pairs; r += 2) {
      const w = r * cols, v = w + cols;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      for (let m = 0; m < cols; m++) {
        const u = W[w + m], q = W[v + m];
        const e0 = x[x0 + m], e1 = x[x1 + m], e2 = x[x2 + m], e3 = x[x3 + m];
        a0 += u * e0;
        a1 += u * e1;
        a2 += u * e2;
        a3 += u * e3;
        c0 += q * e0;
        c1 += q * e1;
        c2 += q * e2;
        c3 += q * e3;
      }
      y[y0 + r] = b[r] + a0;
      y[y1 + r] = b[r] + a1;
      y[y2 + r] = b[r] + a2;
      y[y3 + r] = b[r] + a3;
      y[y0 + r + 1] = b[r + 1] + c0;
      y[y1 + r + 1] = b[r + 1] + c1;
      y[y2 + r + 1] = b[r + 1] + c2;
      y[y3 + r + 1] = b[r + 1] + c3;
    }
    for (let r = pairs; r < rows; r++) for (const [xo, yo] of [[x0, y0], [x1, y1], [x2, y2], [x3, y3]]) {
      y[yo + r] = b[r] + dot(W, r * cols, x, xo, cols);
    }
  }
  for (; p < n; p++) for (let r = 0; r < rows; r++) y[p * rows + r] = b[r] + dot(W, r * cols, x, p * cols, cols);
}
function dot(W, w, x, xo, cols) {
  let s = 0;
  for (let m = 0; m < cols; m++) s += W[w + m] * x[xo + m];
  return s;
}
function prefixStates(cell, w, xp, H, T) {
  const GH = Math.max(cell.gates.length, 1) * H;
  const recurrent = cell.recurrent !== false;
  const hs = new Float64Array(T * H), cs = new Float64Array(T * H), a = recurrent ? new Float64Array(T * GH) : null;
  for (let s = 0; s < T; s++) {
    if (recurrent) affineMany(w.whh, w.bhh, hs, s, T, GH, H, a);
    for (let p = s; p < T; p++) {
      const row = p - s;
      const ap = recurrent ? a.subarray(p * GH, (p + 1) * GH) : null;
      const step = cell.step(
        xp.subarray(row * GH, (row + 1) * GH),
        ap,
        hs.subarray(p * H, (p + 1) * H),
        cs.subarray(p * H, (p + 1) * H),
        H
      );
      hs.set(step.h, p * H);
      if (step.c) cs.set(step.c, p * H);
    }
  }
  return hs;
}
function runLayers(model, seq, T) {
  const { kind, hidden: H, layers, directions: D } = model.config;
  const cell = CELLS[kind];
  let input = seq;
  const runs = [];
  for (let l = 0; l < layers; l++) {
    const dirs = [];
    const next = new Float64Array(T * D * H);
    for (let d = 0; d < D; d++) {
      const w = model.weights[l][d];
      const xp = projections(w, input, T);
      const run = runDirection(cell, w, xp, T, H, d === 1);
      run.xp = xp;
      run.input = input;
      dirs.push(run);
      for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) next[t * D * H + d * H + j] = run.h[t * H + j];
    }
    runs.push(dirs);
    input = next;
  }
  return runs;
}
function headLogits(model, features, out, offset) {
  affine(model.head.w, model.head.b, features, 0, 10, features.length, out, offset);
}
function softmax(logits, T) {
  const p = new Float64Array(T * 10);
  for (let t = 0; t < T; t++) {
    let mx = -Infinity;
    for (let k = 0; k < 10; k++) mx = Math.max(mx, logits[t * 10 + k]);
    let s = 0;
    for (let k = 0; k < 10; k++) s += p[t * 10 + k] = Math.exp(logits[t * 10 + k] - mx);
    for (let k = 0; k < 10; k++) p[t * 10 + k] /= s;
  }
  return p;
}
function prefixLogits(model, seq, T, runs) {
  const { kind, hidden: H, layers, directions: D } = model.config;
  const logits = new Float64Array(T * 10);
  const last = runs[layers - 1];
  const features = new Float64Array(D * H);
  if (D === 1) {
    for (let t = 0; t < T; t++) {
      features.set(last[0].h.subarray(t * H, (t + 1) * H));
      headLogits(model, features, logits, t * 10);
    }
  } else if (layers === 1) {
    const backward = prefixStates(CELLS[kind], model.weights[0][1], last[1].xp, H, T);
    for (let t = 0; t < T; t++) {
      features.set(last[0].h.subarray(t * H, (t + 1) * H), 0);
      features.set(backward.subarray(t * H, (t + 1) * H), H);
      headLogits(model, features, logits, t * 10);
    }
  } else {
    for (let t = 0; t < T; t++) {
      const part = runLayers(model, seq, t + 1)[layers - 1];
      features.set(part[0].h.subarray(t * H, (t + 1) * H), 0);
      features.set(part[1].h.subarray(0, H), H);
      headLogits(model, features, logits, t * 10);
    }
  }
  return logits;
}
function trace(model, seq, T) {
  const runs = runLayers(model, seq, T);
  const { hidden: H, layers, directions: D } = model.config;
  const last = runs[layers - 1];
  const features = new Float64Array(D * H);
  features.set(last[0].h.subarray((T - 1) * H, T * H), 0);
  if (D === 2) features.set(last[1].h.subarray(0, H), H);
  const finalLogits = new Float64Array(10);
  headLogits(model, features, finalLogits, 0);
  let logits = null;
  let probs = null;
  const tr = { T, runs, final: softmax(finalLogits, 1) };
  return Object.defineProperties(tr, {
    logits: { enumerable: true, get: () => logits ?? (logits = prefixLogits(model, seq, T, runs)) },
    probs: { enumerable: true, get: () => probs ?? (probs = softmax(tr.logits, T)) },
    prefixed: { get: () => logits !== null }
  });
}
function settledAfter(probs, T) {
  const guess = (t) => argmax(probs, t * 10, 10);
  const final = guess(T - 1);
  for (let t = T - 2; t >= 0; t--) if (guess(t) !== final) return t + 2;
  return 1;
}
function argmax(v, offset = 0, n = v.length) {
  let best = 0;
  for (let k = 1; k < n; k++) if (v[offset + k] > v[offset + best]) best = k;
  return best;
}

// src/units.js
var ORDERS = { index: "unit number", activity: "mean activity |h|", cluster: "similarity (clusters)" };
function orderUnits(h, T, H, by) {
  if (by === "activity") return activityOrder(h, T, H);
  if (by === "cluster") return clusterOrder(h, T, H);
  return Array.from({ length: H }, (_, j) => j);
}
function activityOrder(h, T, H) {
  const mean = new Float64Array(H);
  for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) mean[j] += Math.abs(h[t * H + j]) / T;
  return Array.from({ length: H }, (_, j) => j).sort((a, b) => mean[b] - mean[a] || a - b);
}
function clusterOrder(h, T, H) {
  if (H < 2) return [0];
  const dist = new Float64Array(H * H);
  for (let a = 0; a < H; a++) {
    for (let b = a + 1; b < H; b++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += (h[t * H + a] - h[t * H + b]) ** 2;
      dist[a * H + b] = dist[b * H + a] = Math.sqrt(s);
    }
  }
  const id = Array.from({ length: H }, (_, j) => j), size = new Array(H).fill(1), alive = new Array(H).fill(true);
  const children = /* @__PURE__ */ new Map();
  for (let step = 0; step < H - 1; step++) {
    let best = Infinity, pa = -1, pb = -1;
    for (let a = 0; a < H; a++) {
      if (!alive[a]) continue;
      for (let b = a + 1; b < H; b++) {
        if (alive[b] && dist[a * H + b] < best) {
          best = dist[a * H + b];
          pa = a;
          pb = b;
        }
      }
    }
    const lo = Math.min(id[pa], id[pb]), hi = Math.max(id[pa], id[pb]);
    children.set(H + step, [lo, hi]);
    for (let c = 0; c < H; c++) {
      if (!alive[c] || c === pa || c === pb) continue;
      const d = (size[pa] * dist[pa * H + c] + size[pb] * dist[pb * H + c]) / (size[pa] + size[pb]);
      dist[pa * H + c] = dist[c * H + pa] = d;
    }
    size[pa] += size[pb];
    id[pa] = H + step;
    alive[pb] = false;
  }
  const order = [];
  const stack = [2 * H - 2];
  while (stack.length) {
    const node = stack.pop();
    if (node < H) order.push(node);
    else {
      const [lo, hi] = children.get(node);
      stack.push(hi, lo);
    }
  }
  return order;
}

// src/view.js
var PAD = 224;
var STROKE = 18;
var SPEEDS = { normal: 250, slow: 450, fast: 110 };
function el(tag, cls, text2) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text2 !== void 0) e.textContent = text2;
  return e;
}
function select(label, options, value, onChange) {
  const wrap = el("label", "rx-field");
  wrap.append(el("span", "rx-field-label", label));
  const s = el("select");
  for (const [v, text2] of options) {
    const o = el("option", null, text2);
    o.value = String(v);
    s.append(o);
  }
  s.value = String(value);
  s.addEventListener("change", () => onChange(s.value));
  wrap.append(s);
  return { wrap, input: s };
}
function cellRange(values) {
  const a = Float64Array.from(values, Math.abs).sort();
  const pos = (a.length - 1) * 0.99, lo = Math.floor(pos);
  const r = Math.max(a[lo] + (a[Math.min(lo + 1, a.length - 1)] - a[lo]) * (pos - lo), 0.1);
  return [-r, r];
}
var POSITIVE_CENTRE = 0.5;
function positiveRange(arrays) {
  const a = Float64Array.from(arrays.flatMap((v) => Array.from(v))).sort();
  const pos = (a.length - 1) * 0.99, lo = Math.floor(pos);
  const p99 = a[lo] + (a[Math.min(lo + 1, a.length - 1)] - a[lo]) * (pos - lo);
  const k = Math.max(p99 / POSITIVE_CENTRE, 2);
  return [POSITIVE_CENTRE / k, POSITIVE_CENTRE * k];
}
function settling(final, settled, inkRow, T) {
  if (settled < inkRow && inkRow <= T) {
    return ` \xB7 ${final} from row ${settled} on, before any ink (row ${inkRow}): the strokes never changed its answer`;
  }
  if (settled === 1) return ` \xB7 ${final} from row 1 on: it never changed its answer`;
  return ` \xB7 settled: ${final} from row ${settled} on`;
}
function probsAfter(tr, row, T) {
  return row === T ? tr.final : tr.probs.subarray((row - 1) * 10, row * 10);
}
function firstInput(seq, T) {
  const width = seq.length / T;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < width; j++) if (seq[t * width + j] !== 0) return t + 1;
  }
  return T + 1;
}
var Explorer = class {
  constructor(root, view, send) {
    this.root = root;
    this.models = view.models;
    this.opts = view.options;
    this.send = send || (() => {
    });
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
      speed: SPEEDS[this.opts.speed] ? this.opts.speed : "normal"
    };
    this.timer = null;
    this.image = null;
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
    const prev = el("button", "rx-btn", "\u25C0");
    prev.title = "Previous test digit";
    prev.addEventListener("click", () => this.showTest(this.state.index - 1));
    this.number = el("input", "rx-number");
    this.number.type = "number";
    this.number.min = "0";
    this.number.max = String(this.count - 1);
    this.number.setAttribute("aria-label", "Test digit number");
    this.number.addEventListener("change", () => this.typeTest(this.number.value));
    const next = el("button", "rx-btn", "\u25B6");
    next.title = "Next test digit (N)";
    next.addEventListener("click", () => this.showTest(this.state.index + 1));
    const random = el("button", "rx-btn", "Random");
    random.addEventListener("click", () => this.showTest(Math.floor(Math.random() * this.count)));
    this.rangeNote = el("span", "rx-note", `of 0\u2013${this.count - 1}`);
    const classes = [["", "next of class\u2026"], ...Array.from({ length: 10 }, (_, c) => [c, `next ${c}`])];
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
      const look = el("button", "rx-btn rx-inspect", "Look closer below \u2193");
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
    this.playButton = el("button", "rx-btn rx-play-btn", "\u25B6 Play");
    this.playButton.title = "Play from row 1 (Space); pressed while playing it pauses";
    this.playButton.addEventListener("click", () => this.toggle());
    const back = el("button", "rx-btn", "\u25C0 row");
    back.title = "One row back (\u2190)";
    back.addEventListener("click", () => this.step(-1));
    const fwd = el("button", "rx-btn", "row \u25B6");
    fwd.title = "One row forward (\u2192)";
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
      return [(e.clientX - box.left) / box.width * PAD, (e.clientY - box.top) / box.height * PAD];
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
        this.pad.setPointerCapture(e.pointerId);
      } catch {
      }
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
    this.state.index = (k % this.count + this.count) % this.count;
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
      this.message.textContent = `The test digits are numbered 0 to ${this.count - 1}: showing #${shown}, the nearest to ${k}.`;
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
      try {
        const { state, options } = this.memory;
        sessionStorage.setItem(this.memoryKey, JSON.stringify({
          state,
          options,
          pad: pad ? this.pad.toDataURL() : JSON.parse(sessionStorage.getItem(this.memoryKey) || "{}").pad
        }));
      } catch {
      }
    }
  }
  // The digit, the drawing and the choices of the view before the server re-sent it; a choice the server's
  // options changed since (the sidebar's layer, say) is taken from them instead.
  restore(saved2) {
    const cfg = this.models[0].config;
    const same = (name) => saved2.options && saved2.options[name] === this.opts[name];
    if (same("digit") && same("source")) {
      this.state.index = Math.min(saved2.state.index, Math.max(this.count - 1, 0));
      this.state.source = saved2.state.source;
    }
    for (const name of ["layer", "direction", "order", "speed"]) if (same(name)) this.state[name] = saved2.state[name];
    this.state.layer = Math.min(this.state.layer, cfg.layers - 1);
    this.state.direction = Math.min(this.state.direction, cfg.directions - 1);
    if (saved2.pad) this.padCtx.putImageData(saved2.pad, 0, 0);
    for (const [name, input] of Object.entries(this.inputs)) input.value = String(this.state[name]);
    this.setSource(this.state.source);
  }
  // The same from the tab's session storage (a reload): checked, since anything may have been written there.
  restoreStored(stored) {
    const st = stored.state;
    const int = (v) => Number.isInteger(v) && v >= 0 ? v : 0;
    const state = {
      index: int(st.index),
      layer: int(st.layer),
      direction: int(st.direction),
      source: st.source === "draw" ? "draw" : "test",
      order: ORDERS[st.order] ? st.order : "index",
      speed: SPEEDS[st.speed] ? st.speed : "normal"
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
      const positive2 = v.cards.filter((card) => card.scale === "positive");
      if (positive2.length) {
        const range = positiveRange(positive2.map((card) => card.values));
        for (const card of positive2) [card.lo, card.hi] = range;
      }
    });
  }
  buildCards(v) {
    const cfg = v.model.config;
    v.maps.replaceChildren();
    v.cards = [];
    v.built = v.where.join(",");
    const states = CELLS[cfg.kind].states;
    const n = states.length;
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
      const t = Math.min(Math.floor((e.clientX - box.left) / box.width * this.T), this.T - 1);
      const k = Math.min(Math.floor((e.clientY - box.top) / box.height * cfg.hidden), cfg.hidden - 1);
      return [Math.max(t, 0), v.order[Math.max(k, 0)]];
    };
    entry.canvas.addEventListener("mousemove", (e) => {
      const [t, u] = where(e);
      const value = entry.values[t * v.model.config.hidden + u];
      this.hover.textContent = `${v.model.label} \xB7 ${entry.name}[${u}] at row ${t + 1} = ${fmt(value, false)} (click to explain)`;
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
    this.playButton.textContent = this.timer ? "\u275A\u275A Pause" : "\u25B6 Play";
    const what = this.state.source === "draw" ? "your drawing" : `test digit #${this.state.index}` + (this.label === null || this.label === void 0 ? "" : ` (a ${this.label})`);
    const task = this.models[0].task;
    this.titleText.textContent = this.models.map((m) => m.label).join(" and ") + ` reading ${what}` + (task.kind === "rows" ? "" : `, ${task.name}`);
    this.rowText.textContent = `rows read: ${row} of ${T}`;
    this.rowMark.style.top = `${(row - 1) / T * 100}%`;
    this.rowMark.style.height = `${100 / T}%`;
    this.views.forEach((v, k) => {
      if (!this.traces) {
        v.guess.textContent = "";
        v.barEls.forEach((b) => b.style.height = "0");
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
    let text2 = `after row ${row}: ${guess} (${(100 * p[guess]).toFixed(1)}%)`;
    if (row !== T) return text2;
    const final = argmax(tr.final);
    text2 += this.label === null || this.label === void 0 ? "" : final === this.label ? " \u2014 correct" : ` \u2014 wrong, it is a ${this.label}`;
    return tr.prefixed ? text2 + settling(final, settledAfter(tr.probs, T), firstInput(seq, T), T) : text2;
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
      for (const { tr } of traces) void tr.probs;
      this.views.forEach((v, k) => v.guess.textContent = this.verdict(k, this.T));
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
    card.cursor.style.left = `${(row - 1) / T * 100}%`;
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
    if (this.state.row >= this.T) this.state.row = 1;
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
    if (this.playButton) this.playButton.textContent = "\u25B6 Play";
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
    head.append(
      el("strong", null, `${name}[${unit}] at row ${row + 1}`),
      el("span", "rx-note", ` ${v.model.label}${lay}${dir}` + (e.first ? " \xB7 first step: the state read is zero" : ""))
    );
    const close = el("button", "rx-btn rx-close", "\u2715");
    close.title = "Close";
    close.addEventListener("click", () => p.hidden = true);
    head.append(close);
    p.append(head);
    for (const line of explanationLines(e)) {
      const row2 = el("div", "rx-line" + (line.name === name ? " rx-focus" : ""));
      row2.append(el("div", "rx-eq", line.equation), el("div", "rx-num", line.numbers));
      p.append(row2);
    }
    if (!e.recurrent) {
      p.append(el("div", "rx-note rx-explain-note", `${v.model.label} has no W_hh: every gate reads row ${row + 1} alone, and h_${direction === 0 ? row : row + 2} enters only the last line. pos(v) = v + 0.5 for v \u2265 0, \u03C3(v) below: the candidate is always positive.`));
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
      grid.append(list(`largest terms of W_i${name}\xB7x_${row + 1}`, term.topInput));
      if (e.recurrent) grid.append(list(`largest terms of W_h${name}\xB7h_${prev}`, term.topRecurrent));
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
      models: this.models.map((m) => ({ name: m.name, label: m.label, bytes: m.bytes }))
    };
  }
};

// src/main.js
var current = null;
var saved = /* @__PURE__ */ new Map();
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
function mount(component) {
  const { data, parentElement, setTriggerValue, key } = component;
  if (!data) return void 0;
  let root = parentElement.querySelector(".rx-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "rx-root";
    parentElement.append(root);
  }
  const send = setTriggerValue ? (name, value) => setTriggerValue(name, value) : () => {
  };
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
      wait.textContent = `Loading the model: its weights and test digits, ${(size / 1e6).toFixed(1)} MB\u2026`;
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
export {
  Explorer,
  decodeModel,
  decodeView,
  mount as default,
  digitImage,
  drawingToDigit,
  explainCell,
  explanationLines,
  orderUnits,
  sequenceOf,
  trace
};
