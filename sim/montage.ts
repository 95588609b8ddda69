/**
 * Pictures of synthetic volumes: axial slices through the nodule, as a
 * grayscale PNG (a small hand-written encoder: node:zlib deflate + CRC-32)
 * or as an SVG with captions that embeds one PNG per tile.
 *
 * @module
 */
import { deflateSync } from "node:zlib";
import { Buffer } from "node:buffer";
import type { CohortSet, Patient, Scan } from "../cohort/types.ts";
import type { SyntheticScan } from "./generate.ts";
import { UserError } from "../core/errors.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes an 8-bit grayscale image (row-major, `width * height` bytes) as PNG.
 *
 * @example
 * ```ts
 * const png = encodePng(2, 1, new Uint8Array([0, 255]));
 * ```
 */
export function encodePng(
  width: number,
  height: number,
  gray: Uint8Array,
): Uint8Array {
  if (gray.length !== width * height) {
    throw new UserError(
      `PNG: ${gray.length} pixels do not match ${width}x${height}`,
    );
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One tile: a cubic volume and the axial slice to show. */
export interface MontageTile {
  /** size^3 voxels, z slowest. */
  data: Float32Array;
  /** Edge length. */
  size: number;
  /** Axial slice index; default: through the nodule, else the middle. */
  slice?: number;
  /** Caption (SVG only). */
  caption?: string;
}

/** Display options. */
export interface MontageOptions {
  /** HU window [low, high]; default lung window [-1000, 200]. */
  window?: [number, number];
  /** Pixels per voxel; default 4. */
  scale?: number;
}

function slicePixels(t: MontageTile, o: MontageOptions): Uint8Array {
  const n = t.size, s = o.scale ?? 4;
  const [lo, hi] = o.window ?? [-1000, 200];
  const z = Math.min(n - 1, Math.max(0, t.slice ?? Math.floor(n / 2)));
  const out = new Uint8Array(n * s * n * s);
  for (let y = 0; y < n * s; y++) {
    for (let x = 0; x < n * s; x++) {
      const hu = t.data[(z * n + Math.floor(y / s)) * n + Math.floor(x / s)];
      const g = Math.round(255 * (hu - lo) / (hi - lo));
      out[y * n * s + x] = Math.max(0, Math.min(255, g));
    }
  }
  return out;
}

/**
 * A grid of axial slices as one PNG (`columns` tiles per row, 2 px gaps).
 *
 * @example
 * ```ts
 * Deno.writeFileSync("m.png", montagePng(tiles, 4));
 * ```
 */
export function montagePng(
  tiles: MontageTile[],
  columns: number,
  o: MontageOptions = {},
): Uint8Array {
  if (tiles.length === 0) throw new UserError("montage: no tiles to draw");
  const s = o.scale ?? 4, gap = 2;
  const cell = Math.max(...tiles.map((t) => t.size)) * s;
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const w = cols * cell + (cols - 1) * gap, h = rows * cell + (rows - 1) * gap;
  const img = new Uint8Array(w * h);
  tiles.forEach((t, i) => {
    const px = slicePixels(t, o), side = t.size * s;
    const ox = (i % cols) * (cell + gap),
      oy = Math.floor(i / cols) * (cell + gap);
    for (let y = 0; y < side; y++) {
      img.set(px.subarray(y * side, (y + 1) * side), (oy + y) * w + ox);
    }
  });
  return encodePng(w, h, img);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Rows of captioned tiles as SVG, each tile an embedded PNG.
 *
 * @example
 * ```ts
 * const svg = montageSvg([{ title: "benign", tiles }]);
 * ```
 */
export function montageSvg(
  rows: { title: string; tiles: MontageTile[] }[],
  o: MontageOptions = {},
): string {
  const s = o.scale ?? 4, gap = 8, titleH = 18, capH = 14;
  const cell = Math.max(8, ...rows.flatMap((r) => r.tiles.map((t) => t.size))) *
    s;
  const cols = Math.max(1, ...rows.map((r) => r.tiles.length));
  const rowH = titleH + cell + capH + gap;
  const width = cols * (cell + gap) + gap, height = rows.length * rowH + gap;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  rows.forEach((r, ri) => {
    const y0 = gap + ri * rowH;
    parts.push(
      `<text x="${gap}" y="${y0 + 13}" font-weight="bold">${
        escapeXml(r.title)
      }</text>`,
    );
    r.tiles.forEach((t, ci) => {
      const side = t.size * s;
      const png = encodePng(side, side, slicePixels(t, o));
      const x = gap + ci * (cell + gap);
      parts.push(
        `<image x="${x}" y="${
          y0 + titleH
        }" width="${side}" height="${side}" href="data:image/png;base64,${
          Buffer.from(png).toString("base64")
        }"/>`,
      );
      if (t.caption) {
        parts.push(
          `<text x="${x}" y="${y0 + titleH + cell + 11}">${
            escapeXml(t.caption)
          }</text>`,
        );
      }
    });
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function tileOf(scan: Scan, size: number, caption: string): MontageTile {
  const nod = (scan as Partial<SyntheticScan>).nodule;
  const sp = (scan as Partial<SyntheticScan>).spacingMm ?? 1;
  const slice = nod
    ? Math.round(nod.centerMm[2] / sp + (size - 1) / 2)
    : undefined;
  return { data: scan.data, size, slice, caption };
}

/**
 * The standard picture of a volume-mode cohort set: internal benign vs
 * malignant, each external site's scanner, and one malignant nodule's
 * growth over time (when patients have several scans).
 *
 * @example
 * ```ts
 * writeAtomic("montage.svg", cohortMontage(generateCohorts(s, 1)));
 * ```
 */
export function cohortMontage(set: CohortSet, perRow = 4): string {
  if (set.internal.imaging.mode !== "volume") {
    throw new UserError(
      "montage: the cohort is in features mode (set imaging.level: volume)",
    );
  }
  const size = set.internal.imaging.shape[0];
  const withScan = (ps: Patient[]) => ps.filter((p) => p.scans.length > 0);
  const labeled = withScan(set.internal.patients).filter((p) =>
    p.label !== null
  );
  const caption = (p: Patient, scan: Scan) => {
    const d = (scan as Partial<SyntheticScan>).nodule?.diameterMm;
    return `${p.label === 1 ? "M" : "B"} ${d ? d.toFixed(1) + " mm" : ""}`;
  };
  const pick = (ps: Patient[]) =>
    ps.slice(0, perRow).map((p) =>
      tileOf(p.scans[0], size, caption(p, p.scans[0]))
    );
  const rows = [
    {
      title: "internal: benign",
      tiles: pick(labeled.filter((p) => p.label === 0)),
    },
    {
      title: "internal: malignant",
      tiles: pick(labeled.filter((p) => p.label === 1)),
    },
    ...set.externals.map((c) => ({
      title: `${c.name}: scanner`,
      tiles: pick(withScan(c.patients).filter((p) => p.label !== null)),
    })),
  ];
  const grower = labeled.filter((p) => p.label === 1 && p.scans.length > 1)
    .sort((a, b) => b.scans.length - a.scans.length)[0];
  if (grower) {
    rows.push({
      title: `growth over time: ${grower.id}`,
      tiles: grower.scans.slice(0, perRow).map((s) =>
        tileOf(s, size, `${s.time.toFixed(1)} mo, ${caption(grower, s)}`)
      ),
    });
  }
  return montageSvg(rows.filter((r) => r.tiles.length > 0));
}
