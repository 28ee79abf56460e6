// The heatmaps' colour scales, as the Plotly figures draw them (explorer.figures.panels): Viridis for the
// sigmoid gates (0..1), RdBu reversed for tanh values (-1..1), PiYG reversed for the LSTM's cell state (centred
// on 0, its range the largest |c| of the view). Stops are Plotly's own. minGRU's and minLSTM's candidate and h are
// positive, unbounded and heavy-tailed (half of them below 0.5, a few above 10): they take RdBu reversed on a log
// scale centred on 0.5, the candidate at a pre-activation of 0 (pos(0)): blue below it, red above.

const SCALES = {
  gate: ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b",
    "#fde725"],
  signed: ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
    "#b2182b", "#67001f"],
  cell: ["#276419", "#4d9221", "#7fbc41", "#b8e186", "#e6f5d0", "#f7f7f7", "#fde0ef", "#f1b6da", "#de77ae",
    "#c51b7d", "#8e0152"],
};

const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
SCALES.positive = SCALES.signed;

const LUTS = Object.fromEntries(
  Object.entries(SCALES).map(([name, stops]) => {
    const c = stops.map(rgb);
    const lut = new Uint8ClampedArray(256 * 3);
    for (let k = 0; k < 256; k++) {
      const p = (k / 255) * (c.length - 1);
      const lo = Math.min(Math.floor(p), c.length - 2);
      const f = p - lo;
      for (let ch = 0; ch < 3; ch++) lut[3 * k + ch] = Math.round(c[lo][ch] * (1 - f) + c[lo + 1][ch] * f);
    }
    return [name, lut];
  }),
);

// A state's scale; a cell may name its own (cells.js: `scales`).
export function scaleOf(name, cell) {
  if (cell && cell.scales && cell.scales[name]) return cell.scales[name];
  if (name === "c") return "cell";
  return name === "h" || name === "g" || name === "n" ? "signed" : "gate";
}

// An [r, g, b] for value v on a scale from lo to hi (for "positive", from log lo to log hi; lo > 0).
export function colour(scale, v, lo, hi) {
  if (scale === "positive") [v, lo, hi] = [Math.log(Math.max(v, lo)), Math.log(lo), Math.log(hi)];
  const k = Math.round(Math.min(Math.max((v - lo) / (hi - lo || 1), 0), 1) * 255);
  const lut = LUTS[scale];
  return [lut[3 * k], lut[3 * k + 1], lut[3 * k + 2]];
}

export function cssColour(scale, v, lo, hi) {
  const [r, g, b] = colour(scale, v, lo, hi);
  return `rgb(${r},${g},${b})`;
}
