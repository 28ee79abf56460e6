// One number of a trace explained, in the browser: the same content as the engine's explain-a-number
// (explorer.analysis.explain.explain): for unit j of one layer and direction at image row t, every gate's
// pre-activation split into W_ih[j]·x_t, b_ih[j], W_hh[j]·h_prev and b_hh[j] (minGRU and minLSTM have no W_hh:
// their recurrent parts are null), its value, how the gates make c and h, and the largest terms of the sums.
// h_prev is the state this direction read before row t (row t-1 forward, row t+1 backward, zeros before its first
// step).

import { CELLS, SYMBOLS, apply, fmt } from "./cells.js";

const TOP = 5;

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

export function explainCell(model, tr, layer, direction, unit, row) {
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
      ...parts, reset: name === "n" && kind === "gru" ? values.r : null, pre, nonlinearity, value: values[name],
      topInput: top(inputTerms, (m) => inputLabel(layer, directions, H, m)),
      topRecurrent: top(recurrentTerms, (m) => `h[${m}]`),
    };
  });
  const hPrev = hPrevVec[unit];
  const cPrev = run.c ? (first ? 0 : run.c[previous * H + unit]) : null;
  const v = { ...values, hPrev, cPrev };
  Object.assign(v, cell.unit(v));
  return { kind, layer, direction, unit, row, first, recurrent, terms, hPrev, cPrev, c: v.c ?? null, h: v.h,
    combined: cell.combine(v) };
}

// The panel's lines for an explanation, as plain text: one equation with its numbers per gate, then c and h.
export function explanationLines(e) {
  const t = e.row + 1;
  const prev = e.direction === 0 ? t - 1 : t + 1;
  const x = e.layer === 0 ? `x_${t}` : `h^${e.layer}_${t}`;
  const j = `[${e.unit}]`;
  const lines = [];
  for (const [name, term] of Object.entries(e.terms)) {
    const f = SYMBOLS[term.nonlinearity];
    // No W_hh (minGRU, minLSTM): the gate is the row's input part and bias alone.
    let rec = e.recurrent ? ` + W_h${name}${j}·h_${prev} + b_h${name}${j}` : "";
    let recNumbers = e.recurrent ? ` + ${fmt(term.h)} + ${fmt(term.bh)}` : "";
    if (term.reset !== null) {
      rec = ` + r_${t}${j}·(${rec.slice(3)})`;
      recNumbers = ` + ${fmt(term.reset)} · (${recNumbers.slice(3)})`;
    }
    lines.push({
      name,
      equation: `${name}_${t}${j} = ${f}(W_i${name}${j}·${x} + b_i${name}${j}${rec})`,
      numbers: `= ${f}(${fmt(term.x)} + ${fmt(term.bx)}${recNumbers}) = ${f}(${fmt(term.pre, false)}) = ` +
        fmt(term.value, false),
    });
  }
  for (const c of e.combined) {
    lines.push({ name: c.name, equation: c.text.replaceAll("_t", `_${t}`).replace("prev", `${prev}`),
      numbers: `= ${c.filled} = ${fmt(c.value, false)}` });
  }
  return lines;
}
