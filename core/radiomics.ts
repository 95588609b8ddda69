/**
 * Hand-crafted nodule measurements from a CT region of interest: what a
 * radiologist's workstation or a radiomics package reports (volume, solid
 * part, density, margin, shape, surroundings). They are the features of the
 * `logreg-volume` baseline and work on any ROI in HU, simulated or real:
 * this module imports nothing from the project but core/ (the shared HU
 * window and the user-error type).
 *
 * The nodule is segmented as the connected component (6-neighbourhood) of
 * voxels {@link NODULE_ABOVE_LUNG_HU} above the lung's level that holds the densest voxel near
 * the ROI centre (ROIs are centred on the nodule in both paths). Distances
 * are in voxels: the features are scale-dependent only through the ROI's
 * spacing, which is fixed within a cohort.
 *
 * @module
 */
import { UserError } from "./errors.ts";
import { DEFAULT_HU_WINDOW } from "./hu.ts";

/**
 * Nodule voxels lie this far above the lung's level (the median of the
 * ROI's outer shell): ground glass is about -550 HU, lung -850 HU but
 * shifted by emphysema or fibrosis, so a fixed threshold leaks into dense
 * lung. The threshold is clamped to [-750, -450] HU.
 *
 * @example
 * ```ts
 * const thr = lungLevel + NODULE_ABOVE_LUNG_HU; // -700 for a -850 HU lung
 * ```
 */
export const NODULE_ABOVE_LUNG_HU = 150;
/**
 * Voxels above this are solid tissue.
 *
 * @example
 * ```ts
 * const solid = hu > SOLID_THRESHOLD_HU;
 * ```
 */
export const SOLID_THRESHOLD_HU = -300;
/**
 * Voxels above this are the soft-tissue core (solid nodules reach about 35 HU).
 *
 * @example
 * ```ts
 * const core = hu > CORE_HU && hu < CALCIFIED_HU;
 * ```
 */
export const CORE_HU = -150;
/**
 * Voxels at or above this are calcified (the lung window clips at 400).
 *
 * @example
 * ```ts
 * const calcified = hu >= CALCIFIED_HU;
 * ```
 */
export const CALCIFIED_HU = 300;

/**
 * Names of the measurements {@link volumeFeatures} returns, in order.
 *
 * @example
 * ```ts
 * VOLUME_FEATURE_NAMES.length; // 16
 * ```
 */
export const VOLUME_FEATURE_NAMES: readonly string[] = [
  "log_volume",
  "log_solid_volume",
  "solid_fraction",
  "mean_hu",
  "p95_hu",
  "sd_hu",
  "core_sd_hu",
  "log_calcified",
  "edge_gradient",
  "sphericity",
  "surface_roughness",
  "elongation",
  "lung_mean_hu",
  "log_dense_outside",
  "dense_distance",
  "shell_radius",
];

/**
 * Measures one cubic ROI (size^3, x fastest, z slowest) into
 * {@link VOLUME_FEATURE_NAMES}. Values in HU; an ROI whose values all lie
 * in [0, 1] is taken as a window normalized to [0, 1] (real/ with
 * `normalize: true`) and mapped back to HU over the default window.
 *
 * @example
 * ```ts
 * const f = volumeFeatures(scan.data, 32); // Float64Array(16)
 * ```
 */
export function volumeFeatures(data: Float32Array, size: number): Float64Array {
  const n = size, n3 = n * n * n;
  if (data.length !== n3) {
    throw new Error(
      `volumeFeatures: ${data.length} values, expected ${n}^3 = ${n3}`,
    );
  }
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n3; i++) {
    if (data[i] < lo) lo = data[i];
    if (data[i] > hi) hi = data[i];
  }
  const [wl, wh] = DEFAULT_HU_WINDOW;
  const hu = lo >= 0 && hi <= 1
    ? Float32Array.from(data, (v) => wl + v * (wh - wl))
    : data;
  const idx = (x: number, y: number, z: number) => (z * n + y) * n + x;
  const shell: number[] = [];
  for (let z = 0; z < n; z++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        if (
          x === 0 || y === 0 || z === 0 || x === n - 1 || y === n - 1 ||
          z === n - 1
        ) shell.push(hu[idx(x, y, z)]);
      }
    }
  }
  shell.sort((a, b) => a - b);
  const lungLevel = shell[Math.floor(shell.length / 2)];
  const thr = Math.min(-450, Math.max(-750, lungLevel + NODULE_ABOVE_LUNG_HU));
  // Seed: the above-threshold voxel nearest the ROI centre (where both
  // paths put the nodule); a denser vessel or wall nearby must not win.
  const c0 = (n - 1) / 2;
  let seed = idx(Math.round(c0), Math.round(c0), Math.round(c0)),
    best = Infinity;
  const r = Math.min(4, Math.floor(c0));
  for (let z = Math.ceil(c0 - r); z <= c0 + r; z++) {
    for (let y = Math.ceil(c0 - r); y <= c0 + r; y++) {
      for (let x = Math.ceil(c0 - r); x <= c0 + r; x++) {
        const d = Math.hypot(x - c0, y - c0, z - c0);
        if (hu[idx(x, y, z)] > thr && d < best) {
          best = d;
          seed = idx(x, y, z);
        }
      }
    }
  }
  // Radius: the first spherical shell around the seed whose median is
  // below the threshold. A median ignores vessels and the chest wall,
  // which fill less than half of any shell close to the nodule.
  const sx0 = seed % n, sy0 = Math.floor(seed / n) % n;
  const sz0 = Math.floor(seed / (n * n));
  const shells: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n3; i++) {
    const x = i % n, y = Math.floor(i / n) % n, z = Math.floor(i / (n * n));
    const d = Math.round(Math.hypot(x - sx0, y - sy0, z - sz0));
    if (d < n) shells[d].push(hu[i]);
  }
  // Linear interpolation between the last shell above and the first below.
  let radius = 0, prev = hu[seed];
  for (let d = 1; d < n; d++) {
    const sh = shells[d].sort((a, b) => a - b);
    if (sh.length === 0) break;
    const med = sh[Math.floor(sh.length / 2)];
    if (med <= thr) {
      radius = d - 1 + (prev > med ? (prev - thr) / (prev - med) : 0);
      break;
    }
    prev = med;
    radius = d;
  }
  // The segmentation stays within reach of the longest spicule (up to
  // about 1.6 radii, more along an elongated axis) and one voxel of edge.
  const limit2 = (2 * radius + 2) ** 2;
  const inside = new Uint8Array(n3);
  const stack: number[] = [];
  if (hu[seed] > thr) {
    inside[seed] = 1;
    stack.push(seed);
  }
  const near = (j: number) => {
    const x = j % n, y = Math.floor(j / n) % n, z = Math.floor(j / (n * n));
    return (x - sx0) ** 2 + (y - sy0) ** 2 + (z - sz0) ** 2 <= limit2;
  };
  while (stack.length > 0) {
    const i = stack.pop()!;
    const x = i % n, y = Math.floor(i / n) % n, z = Math.floor(i / (n * n));
    const visit = (j: number) => {
      if (!inside[j] && hu[j] > thr && near(j)) {
        inside[j] = 1;
        stack.push(j);
      }
    };
    if (x > 0) visit(i - 1);
    if (x < n - 1) visit(i + 1);
    if (y > 0) visit(i - n);
    if (y < n - 1) visit(i + n);
    if (z > 0) visit(i - n * n);
    if (z < n - 1) visit(i + n * n);
  }

  let vol = 0, solid = 0, calc = 0, sum = 0, sq = 0, ssum = 0, ssq = 0, sn = 0;
  let sx = 0, sy = 0, sz = 0;
  let lungSum = 0, lungN = 0, denseOut = 0;
  const values: number[] = [];
  for (let i = 0; i < n3; i++) {
    const v = hu[i];
    if (inside[i]) {
      vol++;
      if (v > SOLID_THRESHOLD_HU) solid++;
      if (v >= CALCIFIED_HU) calc++;
      else if (v > CORE_HU) {
        // Texture of the soft-tissue core, without its edge ramp and
        // without the calcified centre.
        ssum += v;
        ssq += v * v;
        sn++;
      }
      sum += v;
      sq += v * v;
      values.push(v);
      sx += i % n;
      sy += Math.floor(i / n) % n;
      sz += Math.floor(i / (n * n));
    } else if (v <= thr) {
      lungSum += v;
      lungN++;
    } else if (v > SOLID_THRESHOLD_HU) denseOut++;
  }
  const mean = vol > 0 ? sum / vol : thr;
  const sd = vol > 1 ? Math.sqrt(Math.max(0, sq / vol - mean * mean)) : 0;
  const sm = sn > 0 ? ssum / sn : 0;
  const solidSd = sn > 1 ? Math.sqrt(Math.max(0, ssq / sn - sm * sm)) : 0;
  values.sort((a, b) => a - b);
  const p95 = vol > 0 ? values[Math.min(vol - 1, Math.floor(0.95 * vol))] : thr;
  const cx = vol > 0 ? sx / vol : c0, cy = vol > 0 ? sy / vol : c0;
  const cz = vol > 0 ? sz / vol : c0;

  // Surface: faces between inside and outside; boundary voxels' distances
  // from the centroid (roughness) and the HU step across each face (edge).
  let faces = 0, grad = 0;
  const dists: number[] = [];
  let cxx = 0, cyy = 0, czz = 0, cxy = 0, cxz = 0, cyz = 0;
  for (let i = 0; i < n3; i++) {
    if (!inside[i]) continue;
    const x = i % n, y = Math.floor(i / n) % n, z = Math.floor(i / (n * n));
    const dx = x - cx, dy = y - cy, dz = z - cz;
    cxx += dx * dx;
    cyy += dy * dy;
    czz += dz * dz;
    cxy += dx * dy;
    cxz += dx * dz;
    cyz += dy * dz;
    let boundary = false;
    const face = (ok: boolean, j: number) => {
      if (!ok || !inside[j]) {
        faces++;
        boundary = true;
        if (ok) grad += hu[i] - hu[j];
      }
    };
    face(x > 0, i - 1);
    face(x < n - 1, i + 1);
    face(y > 0, i - n);
    face(y < n - 1, i + n);
    face(z > 0, i - n * n);
    face(z < n - 1, i + n * n);
    if (boundary) dists.push(Math.hypot(dx, dy, dz));
  }
  const sphericity = faces > 0
    ? Math.cbrt(Math.PI) * Math.pow(6 * vol, 2 / 3) / faces
    : 0;
  let dm = 0, dv = 0;
  for (const d of dists) dm += d / dists.length;
  for (const d of dists) dv += (d - dm) ** 2 / dists.length;
  const roughness = dm > 0 ? Math.sqrt(dv) / dm : 0;
  const eig = symmetricEigenvalues3(
    cxx / Math.max(1, vol),
    cyy / Math.max(1, vol),
    czz / Math.max(1, vol),
    cxy / Math.max(1, vol),
    cxz / Math.max(1, vol),
    cyz / Math.max(1, vol),
  );
  const elongation = eig[0] > 1e-9 ? Math.sqrt(eig[2] / eig[0]) : 1;

  // Nearest dense voxel outside the nodule (vessel, chest wall), voxels
  // from the centroid; the ROI's half-diagonal when there is none.
  let nearest = Math.sqrt(3) * n / 2;
  for (let i = 0; i < n3; i++) {
    if (inside[i] || hu[i] <= SOLID_THRESHOLD_HU) continue;
    const x = i % n, y = Math.floor(i / n) % n, z = Math.floor(i / (n * n));
    const d = Math.hypot(x - cx, y - cy, z - cz);
    if (d < nearest) nearest = d;
  }
  return Float64Array.of(
    Math.log1p(vol),
    Math.log1p(solid),
    vol > 0 ? solid / vol : 0,
    mean,
    p95,
    sd,
    solidSd,
    Math.log1p(calc),
    faces > 0 ? grad / faces : 0,
    sphericity,
    roughness,
    elongation,
    lungN > 0 ? lungSum / lungN : lungLevel,
    Math.log1p(denseOut),
    nearest,
    radius,
  );
}

/** Eigenvalues of a symmetric 3x3 matrix, ascending (trigonometric method). */
function symmetricEigenvalues3(
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  f: number,
): [number, number, number] {
  // Matrix [[a, d, e], [d, b, f], [e, f, c]].
  const p1 = d * d + e * e + f * f;
  if (p1 < 1e-18) {
    const s = [a, b, c].sort((x, y) => x - y);
    return [s[0], s[1], s[2]];
  }
  const q = (a + b + c) / 3;
  const p2 = (a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  const B = [
    [(a - q) / p, d / p, e / p],
    [d / p, (b - q) / p, f / p],
    [e / p, f / p, (c - q) / p],
  ];
  const det = B[0][0] * (B[1][1] * B[2][2] - B[1][2] * B[2][1]) -
    B[0][1] * (B[1][0] * B[2][2] - B[1][2] * B[2][0]) +
    B[0][2] * (B[1][0] * B[2][1] - B[1][1] * B[2][0]);
  const rr = Math.min(1, Math.max(-1, det / 2));
  const phi = Math.acos(rr) / 3;
  const e1 = q + 2 * p * Math.cos(phi);
  const e3 = q + 2 * p * Math.cos(phi + 2 * Math.PI / 3);
  const e2 = 3 * q - e1 - e3;
  return [e3, e2, e1];
}

/**
 * The `logreg-volume` baseline's design matrix: {@link volumeFeatures} of
 * each patient's latest scan plus a presence flag (all 0 for a patient
 * without a scan), row-major. `shape` is the cohort's imaging shape; it must
 * be a cube (volume mode), since feature vectors have no voxels to measure.
 *
 * @example
 * ```ts
 * const { x, dim } = volumeFeatureMatrix(patients, cohort.imaging.shape);
 * ```
 */
export function volumeFeatureMatrix(
  patients: readonly { id: string; scans: readonly { data: Float32Array }[] }[],
  shape: readonly number[],
): { x: Float32Array; dim: number } {
  if (shape.length !== 3 || shape[0] !== shape[1] || shape[1] !== shape[2]) {
    throw new UserError(
      `logreg-volume measures nodules in volumes: the cohort's imaging shape is [${shape}], expected a cube [n, n, n] (imaging.level: volume)`,
    );
  }
  const D = VOLUME_FEATURE_NAMES.length, dim = D + 1;
  const x = new Float32Array(patients.length * dim);
  patients.forEach((p, i) => {
    if (p.scans.length === 0) return;
    x.set(volumeFeatures(p.scans[p.scans.length - 1].data, shape[0]), i * dim);
    x[i * dim + D] = 1;
  });
  return { x, dim };
}
