// The recurrent cells, one entry each: a new cell is one more entry here.
//
// Every cell sees, for one step and one layer/direction, the two halves PyTorch computes its gates from:
// xp = W_ih x_t + b_ih and a = W_hh h_prev + b_hh (both G*H long, gates stacked in the cell's order), the state
// it read (hPrev, and cPrev for a cell with a cell state), and H. A cell with `recurrent: false` (minGRU,
// minLSTM) has no W_hh: its gates read x_t alone and `a` is null. `step` returns the new h (and c) and every
// gate's value; `pre` is one gate's pre-activation from the parts of its sum (the explain panel's numbers);
// `unit` is one unit's new c and h from its gates' values (v: the gates, hPrev, cPrev); `combine` says how the
// gates make c and h, with the numbers, for that panel; `scales` names a state's colour scale where the
// default (colours.js: scaleOf) does not fit. Numbers are float64; the engine's are float32.

const sigmoid = (v) => 1 / (1 + Math.exp(-v));
// minGRU's and minLSTM's candidate activation (Feng et al. 2024; explorer.model.mincells.positive): v + 0.5 for
// v >= 0, sigmoid below, so the candidate, and with it h, stays positive.
const positive = (v) => (v >= 0 ? v + 0.5 : sigmoid(v));

const plainPre = (p) => p.x + p.bx + (p.h + p.bh);
const inputPre = (p) => p.x + p.bx;

export const CELLS = {
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
    combine: () => [],
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
      { name: "c", text: "c_t = f_t · c_prev + i_t · g_t", numbers: [v.f, v.cPrev, v.i, v.g], value: v.c,
        filled: `${fmt(v.f)} · ${fmt(v.cPrev)} + ${fmt(v.i)} · ${fmt(v.g)}` },
      { name: "h", text: "h_t = o_t · tanh(c_t)", numbers: [v.o, v.c], value: v.h,
        filled: `${fmt(v.o)} · tanh(${fmt(v.c)})` },
    ],
  },

  gru: {
    gates: ["r", "z", "n"],
    states: ["r", "z", "n", "h"],
    nonlinearity: { r: "sigmoid", z: "sigmoid", n: "tanh" },
    // n = tanh(W_in x + b_in + r · (W_hn h + b_hn)): the reset gate scales the whole recurrent part.
    pre: (p, gate, values) => (gate === "n" ? p.x + p.bx + values.r * (p.h + p.bh) : plainPre(p)),
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
      { name: "h", text: "h_t = (1 − z_t) · n_t + z_t · h_prev", numbers: [v.z, v.n, v.hPrev], value: v.h,
        filled: `(1 − ${fmt(v.z)}) · ${fmt(v.n)} + ${fmt(v.z)} · ${fmt(v.hPrev)}` },
    ],
  },

  // h_t = (1 − z) h_prev + z n: the update gate z is the share of the candidate taken (GRU's z is the share kept).
  mingru: {
    gates: ["z", "n"],
    states: ["z", "n", "h"],
    nonlinearity: { z: "sigmoid", n: "positive" },
    scales: { n: "positive", h: "positive" }, // both > 0 and unbounded: colours.js
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
      { name: "h", text: "h_t = (1 − z_t) · h_prev + z_t · n_t", numbers: [v.z, v.hPrev, v.n], value: v.h,
        filled: `(1 − ${fmt(v.z)}) · ${fmt(v.hPrev)} + ${fmt(v.z)} · ${fmt(v.n)}` },
    ],
  },

  // h_t = f/(f + i) h_prev + i/(f + i) g: the two gates, normalised, share h between the old state and g.
  minlstm: {
    gates: ["f", "i", "g"],
    states: ["f", "i", "g", "h"],
    nonlinearity: { f: "sigmoid", i: "sigmoid", g: "positive" },
    scales: { g: "positive", h: "positive" }, // both > 0 and unbounded: colours.js
    recurrent: false,
    pre: inputPre,
    step(xp, a, hPrev, cPrev, H) {
      const f = new Float64Array(H), i = new Float64Array(H), g = new Float64Array(H), h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        f[j] = sigmoid(xp[j]);
        i[j] = sigmoid(xp[H + j]);
        g[j] = positive(xp[2 * H + j]);
        const total = f[j] + i[j];
        h[j] = (f[j] / total) * hPrev[j] + (i[j] / total) * g[j];
      }
      return { h, gates: { f, i, g } };
    },
    unit: (v) => ({ h: (v.f / (v.f + v.i)) * v.hPrev + (v.i / (v.f + v.i)) * v.g }),
    combine: (v) => [
      { name: "h", text: "h_t = f_t / (f_t + i_t) · h_prev + i_t / (f_t + i_t) · g_t", numbers: [v.f, v.i, v.hPrev, v.g],
        value: v.h, filled: `${fmt(v.f)} / (${fmt(v.f)} + ${fmt(v.i)}) · ${fmt(v.hPrev)} + ` +
          `${fmt(v.i)} / (${fmt(v.f)} + ${fmt(v.i)}) · ${fmt(v.g)}` },
    ],
  },
};

// The nonlinearities by name, and how the panel writes each.
export const apply = { sigmoid, tanh: Math.tanh, positive };
export const SYMBOLS = { sigmoid: "σ", tanh: "tanh", positive: "pos" };

// Four decimals (small numbers in e-notation), the way the panel writes every number; a negative number in
// parentheses when it sits inside a sum, so "+ (−0.25)" reads unambiguously.
export function fmt(v, paren = true) {
  if (!Number.isFinite(v)) return String(v);
  let s = Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2);
  if (!s.includes("e") && s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  if (s === "-0") s = "0";
  const t = s.replace("-", "−");
  return paren && v < 0 && t !== "0" ? `(${t})` : t;
}
