// The forward pass, in the browser: the same numbers as the engine's trace (explorer.model.unroll.trace).
//
// A model is what payload.js decodes: config {kind, hidden, layers, directions}, and weights[layer][direction]
// = {wih, bih, whh, bhh, inSize} (row-major Float32Arrays, gates stacked as nn.LSTM stacks them), head {w, b}.
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
// arrays (T*H, T*G*H), by image row.
export function runDirection(cell, w, xp, T, H, reverse) {
  const G = Math.max(cell.gates.length, 1);
  const out = { h: new Float64Array(T * H), a: new Float64Array(T * G * H), gates: {} };
  if (cell.states.includes("c")) out.c = new Float64Array(T * H);
  for (const g of cell.gates) out.gates[g] = new Float64Array(T * H);
  let h = new Float64Array(H), c = new Float64Array(H);
  const a = new Float64Array(G * H);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    affine(w.whh, w.bhh, h, 0, G * H, H, a);
    const step = cell.step(xp.subarray(t * G * H, (t + 1) * G * H), a, h, c, H);
    out.a.set(a, t * G * H);
    for (const g of cell.gates) out.gates[g].set(step.gates[g], t * H);
    out.h.set(step.h, t * H);
    if (out.c) out.c.set(step.c, t * H);
    h = step.h;
    if (step.c) c = step.c;
  }
  return out;
}

// The backward direction's h after reading rows t, t-1, ..., 0 from the zero state (nothing else kept): one
// prefix of a bidirectional model's per-prefix predictions.
function finalState(cell, w, xp, H, t) {
  const G = Math.max(cell.gates.length, 1);
  let h = new Float64Array(H), c = new Float64Array(H);
  const a = new Float64Array(G * H);
  for (let row = t; row >= 0; row--) {
    affine(w.whh, w.bhh, h, 0, G * H, H, a);
    const step = cell.step(xp.subarray(row * G * H, (row + 1) * G * H), a, h, c, H);
    h = step.h;
    if (step.c) c = step.c;
  }
  return h;
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
    const cell = CELLS[kind];
    for (let t = 0; t < T; t++) {
      features.set(last[0].h.subarray(t * H, (t + 1) * H), 0);
      features.set(finalState(cell, model.weights[0][1], last[1].xp, H, t), H);
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

// The trace of one sequence: runs[layer][direction] with every gate, c and h by image row, and the per-row
// logits and probabilities.
export function trace(model, seq, T) {
  const runs = runLayers(model, seq, T);
  const logits = prefixLogits(model, seq, T, runs);
  return { T, runs, logits, probs: softmax(logits, T) };
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
