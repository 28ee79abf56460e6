// Orders of the heatmaps' unit rows, as the engine's explorer.analysis.units.order_units computes them from
// h (T*H, row-major): by number, by mean |h| (most active first, ties by number), or by average-linkage
// (UPGMA, Euclidean) clustering of the units' time courses, in the dendrogram's leaf order (scipy's
// linkage + leaves_list: each merge lists its lower cluster id first; new clusters get ids H, H+1, ...).

export const ORDERS = { index: "unit number", activity: "mean activity |h|", cluster: "similarity (clusters)" };

export function orderUnits(h, T, H, by) {
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
  // Active clusters by slot: id (scipy's numbering), size; distances between slots in `dist`.
  const id = Array.from({ length: H }, (_, j) => j), size = new Array(H).fill(1), alive = new Array(H).fill(true);
  const children = new Map();
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
