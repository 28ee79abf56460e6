// The forward pass, in the browser: the same numbers as the engine's trace (explorer.model.unroll.trace).
//
// A model is what payload.js decodes: config {kind, hidden, layers, directions}, and weights[layer][direction]
// = {wih, bih, whh, bhh, inSize} (row-major Float32Arrays, gates stacked as nn.LSTM stacks them; whh and bhh
// null for minGRU and minLSTM, whose gates read the row alone), head {w, b}.
// A sequence is a Float32Array of T*28 numbers (row t, pixel m at t*28 + m). Everything is indexed by image row
// (row 0 = top) for both directions, as nn.LSTM's output is: the backward direction reads row T-1 first.

import { CELLS } from "./cells.js";

// y[r] = b[r] + sum_m W[r, m] x[m] for the rows of W (rows x cols, row-major), x starting at x[xOff]. Four
// running sums per row: the hot loop of every step, and twice as fast as one sum in V8.
function affine(W, b, x, xOff, rows, cols, y, yOff = 0) {
  const end = cols - (cols % 4);
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

// The input projections W_ih x_t + b_ih of every row at once: (T, G*H). Shared by every prefix of a
// bidirectional model's per-prefix predictions.
export function projections(w, input, T) {
  const GH = w.bih.length;
  const xp = new Float64Array(T * GH);
  for (let t = 0; t < T; t++) affine(w.wih, w.bih, input, t * w.inSize, GH, w.inSize, xp, t * GH);
  return xp;
}

// One layer and direction over the T rows; steps run in reading order, from the zero state. Returns per-row
// arrays (T*H, and the recurrent parts a: T*G*H, for a cell that has them), by image row.
export function runDirection(cell, w, xp, T, H, reverse) {
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

// y[p] = b + W x[p] for the vectors p = first..n-1 of x (n x cols, row-major) into y (n x rows): two rows of W
// times four vectors at a time, so each weight and each input read serves four or two products (about twice
// the speed of one vector at a time in V8); the rows and vectors left over one at a time.
function affineMany(W, b, x, first, n, rows, cols, y) {
  const pairs = rows - (rows % 2);
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
        a0 += u * e0; a1 += u * e1; a2 += u * e2; a3 += u * e3;
        c0 += q * e0; c1 += q * e1; c2 += q * e2; c3 += q * e3;
      }
      y[y0 + r] = b[r] + a0; y[y1 + r] = b[r] + a1; y[y2 + r] = b[r] + a2; y[y3 + r] = b[r] + a3;
      y[y0 + r + 1] = b[r + 1] + c0; y[y1 + r + 1] = b[r + 1] + c1;
      y[y2 + r + 1] = b[r + 1] + c2; y[y3 + r + 1] = b[r + 1] + c3;
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

// The backward direction's h after reading rows t, t-1, ..., 0 from the zero state, for every prefix t at once:
// (T*H). All prefixes step together, one row deeper each pass (prefix p reads row p - s at pass s), so a pass's
// recurrent products are one weight matrix times the states of the prefixes still reading (affineMany); a cell
// without W_hh (minGRU, minLSTM) has none to compute.
export function prefixStates(cell, w, xp, H, T) {
  const GH = Math.max(cell.gates.length, 1) * H;
  const recurrent = cell.recurrent !== false;
  const hs = new Float64Array(T * H), cs = new Float64Array(T * H), a = recurrent ? new Float64Array(T * GH) : null;
  for (let s = 0; s < T; s++) {
    if (recurrent) affineMany(w.whh, w.bhh, hs, s, T, GH, H, a);
    for (let p = s; p < T; p++) {
      const row = p - s;
      const ap = recurrent ? a.subarray(p * GH, (p + 1) * GH) : null;
      const step = cell.step(xp.subarray(row * GH, (row + 1) * GH), ap, hs.subarray(p * H, (p + 1) * H),
        cs.subarray(p * H, (p + 1) * H), H);
      hs.set(step.h, p * H);
      if (step.c) cs.set(step.c, p * H);
    }
  }
  return hs;
}

// Every layer and direction over the first T rows of `seq`: runs[layer][direction] = {xp, a, gates, c, h, input}.
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

export function softmax(logits, T) {
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

// The logits had the digit ended after row t, for every t: (T, 10). One direction: the head on h_t. A
// one-layer bidirectional model: forward h_t beside the backward direction re-run over rows t..0 (its input
// projections shared). Deeper bidirectional models: the whole model re-run on every prefix, as the engine does.
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

// The trace of one sequence: runs[layer][direction] with every gate, c and h by image row; `final`, the
// probabilities after the last row (the head on the last forward h and, bidirectional, the backward h that has
// read the whole digit); and the per-row logits and probabilities, computed when first asked for (`prefixed`
// tells whether they have been): a bidirectional model re-runs its backward direction on every prefix for them,
// which a new digit shown at its last row does not need before it is drawn.
export function trace(model, seq, T) {
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
    logits: { enumerable: true, get: () => (logits ??= prefixLogits(model, seq, T, runs)) },
    probs: { enumerable: true, get: () => (probs ??= softmax(tr.logits, T)) },
    prefixed: { get: () => logits !== null },
  });
}

// The rows (1..T) from which the most likely class never changes again (the engine's settled_after).
export function settledAfter(probs, T) {
  const guess = (t) => argmax(probs, t * 10, 10);
  const final = guess(T - 1);
  for (let t = T - 2; t >= 0; t--) if (guess(t) !== final) return t + 2;
  return 1;
}

export function argmax(v, offset = 0, n = v.length) {
  let best = 0;
  for (let k = 1; k < n; k++) if (v[offset + k] > v[offset + best]) best = k;
  return best;
}
