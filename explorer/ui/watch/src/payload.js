// Reading what the server sends once per view (explorer.ui.browser_view.view_blob): a small JSON of view
// options, then one blob per model in the layout explorer.model.portable writes (magic "RNNX", header JSON,
// float32 weights and noise rows, uint8 digits).

const ROWS = 28;
const text = new TextDecoder();

function u32(bytes, at) {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
}

// A Float32Array over bytes[at, at + 4n): a copy when the offset is not 4-aligned in the underlying buffer.
function floats(bytes, at, n) {
  const start = bytes.byteOffset + at;
  if (start % 4 === 0) return new Float32Array(bytes.buffer, start, n);
  return new Float32Array(bytes.slice(at, at + 4 * n).buffer);
}

export function decodeModel(bytes) {
  if (text.decode(bytes.subarray(0, 4)) !== "RNNX") throw new Error("not an RNN Explorer model blob");
  const length = u32(bytes, 4);
  const header = JSON.parse(text.decode(bytes.subarray(8, 8 + length)));
  const start = 8 + length + ((4 - ((8 + length) % 4)) % 4);
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
        wih: byName[`weight_ih${sfx}`], bih: byName[`bias_ih${sfx}`],
        // null for a cell without W_hh (minGRU, minLSTM): the blob carries only the tensors the model has
        whh: byName[`weight_hh${sfx}`] ?? null, bhh: byName[`bias_hh${sfx}`] ?? null, inSize: inSize(`weight_ih${sfx}`),
      });
    }
    weights.push(dirs);
  }
  const count = header.digits.count;
  const pixels = bytes.subarray(start + 4 * nFloats, start + 4 * nFloats + count * ROWS * ROWS);
  let noise = null;
  if (header.noise) noise = all.subarray(header.noise.offset, header.noise.offset + size(header.noise.shape));
  return {
    name: header.name, label: header.label, config: header.config, task: header.task,
    weights, head: { w: byName["head.weight"], b: byName["head.bias"] },
    digits: { count, labels: header.digits.labels, pixels }, noise, noiseInfo: header.noise, bytes: bytes.length,
  };
}

// The view blob: "RNXV", uint32 options length, options JSON, uint32 model count, then per model a uint32
// length and its blob.
export function decodeView(bytes) {
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

// The view as the server sends it on the page (explorer.ui.browser_view.view_data): the options, and a link to
// each model's blob, which the server serves as a static file named by its SHA-256. A link's bytes are fetched
// once per page (and kept by the browser's HTTP cache across pages and reloads): a new digit, a rerun or a
// second model view of the same weights asks the server for nothing.
const fetched = new Map(); // url -> Promise of the decoded model; the last few links a page used
const KEEP = 8;

function modelAt(link) {
  if (!fetched.has(link.url)) {
    const loading = fetch(link.url, { cache: "force-cache" }).then(async (r) => {
      if (!r.ok) throw new Error(`the server answered ${r.status} for the model`);
      // stored gzipped (explorer.ui.browser_view.linked), served as application/gzip: unzipped here
      const unzipped = new Response(r.body.pipeThrough(new DecompressionStream("gzip")));
      const bytes = new Uint8Array(await unzipped.arrayBuffer());
      if (bytes.length !== link.bytes) throw new Error("the model arrived incomplete");
      return decodeModel(bytes);
    });
    loading.catch(() => fetched.delete(link.url)); // a failed fetch is tried again by the next view
    fetched.set(link.url, loading);
    while (fetched.size > KEEP) fetched.delete(fetched.keys().next().value);
  }
  return fetched.get(link.url);
}

// "RNXL" and the JSON {options, models: [{url, bytes}]}: a linked view; "RNXV": the models' bytes inline.
export function linkedView(bytes) {
  if (text.decode(bytes.subarray(0, 4)) !== "RNXL") return null;
  return JSON.parse(text.decode(bytes.subarray(4)));
}

export async function fetchView(data) {
  return { options: data.options, models: await Promise.all(data.models.map(modelAt)) };
}

// A test digit's image as the engine reads it: uint8 / 255 in float32, (28*28).
export function digitImage(model, index) {
  const px = model.digits.pixels.subarray(index * ROWS * ROWS, (index + 1) * ROWS * ROWS);
  const out = new Float32Array(ROWS * ROWS);
  for (let k = 0; k < out.length; k++) out[k] = px[k] / 255;
  return out;
}

// The sequence (T*28) the model's task makes of an image: the digit's rows, and the delay's blank or noise
// rows after or before them (noise block `noiseIndex`: the digit's number, or the drawing's block).
export function sequenceOf(model, image, noiseIndex) {
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
