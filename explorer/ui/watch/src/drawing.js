// A drawing made MNIST-like, exactly as the engine's drawing_to_digit (explorer.data.digits) does it: ink from
// the canvas's pixels, faint ink dropped (below INK_THRESHOLD), the ink's box checked for size, scaled to fit
// 20x20 (PyTorch's antialiased bilinear resize), brought to full intensity, and pasted into 28x28 with its
// centre of mass at pixel (14, 14). The same messages as the engine for an empty or a tiny drawing.

export const INK_THRESHOLD = 0.1;
export const MIN_EXTENT = 0.15;
const BOX = 20;
const CENTRE = 14.0;

export class DrawingError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // "empty" or "small"
  }
}

// Python's round(): halves go to the even neighbour.
export function roundHalfEven(v) {
  const f = Math.floor(v);
  const diff = v - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// Ink in [0, 1] (h*w) of RGBA bytes: alpha on a transparent canvas, else the luminance (an opaque canvas).
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

// PyTorch's antialiased resize weights along one axis (aten UpSampleKernel, _compute_weights_aa, bilinear).
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
  const tmp = new Float64Array(h * outW); // width first
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

// (row, col) intensity-weighted centre of an image (h*w).
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

// RGBA bytes (h*w*4) of a canvas -> the 28x28 digit (Float32Array 784) the model reads; throws DrawingError.
export function drawingToDigit(rgba, width, height) {
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
      `The drawing spans ${roundHalfEven(extent * 100)}% of the canvas: draw a larger digit, most of the canvas tall.`,
    );
  }
  const h = r1 - r0 + 1, w = c1 - c0 + 1;
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[y * w + x] = ink[(r0 + y) * width + c0 + x];
  const big = Math.max(h, w);
  const sh = Math.max(1, roundHalfEven((h * BOX) / big)), sw = Math.max(1, roundHalfEven((w * BOX) / big));
  const digit = resize(crop, h, w, sh, sw);
  let peak = 0;
  for (const v of digit) peak = Math.max(peak, v);
  for (let k = 0; k < digit.length; k++) digit[k] = Math.fround(digit[k] / peak);
  const [cy, cx] = centreOfMass(digit, sh, sw);
  const top = Math.min(Math.max(roundHalfEven(CENTRE - cy), 0), 28 - sh);
  const left = Math.min(Math.max(roundHalfEven(CENTRE - cx), 0), 28 - sw);
  const out = new Float32Array(28 * 28);
  for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) out[(top + y) * 28 + left + x] = digit[y * sw + x];
  return out;
}
