/**
 * Preprocessing throughput of real/: decode + check + resample + crop of a
 * CT-sized scan (512 x 512 x 100 int16 NIfTI-1, gzipped, 0.7 x 0.7 x 2.5
 * mm with scl_slope/scl_inter), to a 64^3 ROI at 1 mm around a nodule.
 * Baseline in the same run: gunzip alone of the same file, the floor any
 * decoder pays. The cache-hit path (hash the file, read the ROI) is what a
 * second run costs per scan.
 *
 * Run alone: `deno run -A benches/real_bench.ts [--quick]`.
 *
 * @module
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import {
  type BenchLine,
  type BenchOptions,
  medianSeconds,
  runStandalone,
} from "./harness.ts";
import { encodeNifti } from "../sim/nifti.ts";
import {
  cacheKey,
  checkVolume,
  extractRoi,
  readCachedRoi,
  readNifti,
  writeCachedRoi,
} from "../real/mod.ts";

// An int16 CT-like volume: air outside a cylinder of tissue, a denser
// sphere inside, and voxel noise (so gzip works as hard as on real data).
function ctLikeNifti(nx: number, ny: number, nz: number): Uint8Array {
  const n = nx * ny * nz;
  const header = encodeNifti({
    dims: [nx, ny, nz],
    spacing: [0.7, 0.7, 2.5],
    origin: [-(nx - 1) * 0.35, -(ny - 1) * 0.35, -(nz - 1) * 1.25],
    data: new Float32Array(n),
  }, false).slice(0, 352);
  const out = new Uint8Array(352 + 2 * n);
  out.set(header);
  const h = new DataView(out.buffer);
  h.setInt16(70, 4, true); // int16
  h.setInt16(72, 16, true);
  h.setFloat32(112, 1, true); // scl_slope
  h.setFloat32(116, -1024, true); // scl_inter: stored = HU + 1024
  let seed = 12345;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const noise = (seed >>> 24) - 128;
        const r = Math.hypot(i - nx / 2, j - ny / 2);
        const d = Math.hypot(i - nx / 2 - 40, j - ny / 2, (k - nz / 2) * 3.5);
        const hu = d < 12 ? 40 : r < nx * 0.45 ? -850 : -1000;
        h.setInt16(352 + 2 * (i + nx * (j + ny * k)), hu + 1024 + noise, true);
      }
    }
  }
  return gzipSync(out, { level: 6 });
}

/**
 * Measures scans/s for decode + resample + crop, against gunzip alone.
 *
 * @example
 * ```ts
 * const lines = await run({ quick: true, log: console.error });
 * ```
 */
export async function run(o: BenchOptions): Promise<BenchLine[]> {
  const [nx, ny, nz] = o.quick ? [256, 256, 50] : [512, 512, 100];
  const dir = await Deno.makeTempDir({ prefix: "real_bench_" });
  try {
    o.log(`real: writing a ${nx}x${ny}x${nz} int16 NIfTI`);
    const path = join(dir, "ct.nii.gz");
    const bytes = ctLikeNifti(nx, ny, nz);
    Deno.writeFileSync(path, bytes);
    const nodule = [40 * 0.7, 0, 0];
    const roiOpts = { size: 64, spacingMm: 1 };
    let decodeOnly = 0, resample = 0;
    const full = await medianSeconds(
      () => {
        const t0 = performance.now();
        const v = readNifti(path);
        checkVolume(v, path);
        const t1 = performance.now();
        extractRoi(v, nodule, roiOpts);
        decodeOnly = (t1 - t0) / 1000;
        resample = (performance.now() - t1) / 1000;
      },
      o.quick ? 2 : 3,
      1,
    );
    o.log("real: baseline gunzip");
    const gz = await medianSeconds(
      () => gunzipSync(Deno.readFileSync(path)),
      o.quick ? 2 : 3,
      1,
    );
    const roi = extractRoi(readNifti(path), nodule, roiOpts);
    const key = cacheKey(path, { roiOpts, nodule });
    writeCachedRoi(dir, key, roi);
    const hit = await medianSeconds(
      () => readCachedRoi(dir, cacheKey(path, { roiOpts, nodule }), roi.length),
      5,
      1,
    );
    const size = `${nx}x${ny}x${nz}`;
    const mb = (bytes.length / 1e6).toFixed(0);
    return [
      {
        name: `real: decode + resample + crop, ${size} NIfTI -> 64^3`,
        value: Number((1 / full).toFixed(2)),
        unit: "scans/s",
        baseline: {
          name: "gunzip alone",
          value: Number((1 / gz).toFixed(2)),
          ratio: Number((gz / full).toFixed(2)),
        },
        note: `int16 .nii.gz (${mb} MB), one core, median of ${
          o.quick ? 2 : 3
        }; last run: decode+check ${
          (decodeOnly * 1000).toFixed(0)
        } ms, resample+crop ${(resample * 1000).toFixed(0)} ms`,
      },
      {
        name: `real: cache hit (hash file + read ROI), ${size}`,
        value: Number((1 / hit).toFixed(2)),
        unit: "scans/s",
        note: "what a second run pays per scan instead of decoding",
      },
    ];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) await runStandalone(run);
