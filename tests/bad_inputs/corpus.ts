/**
 * A corpus of malformed inputs, generated into a temp folder (binary
 * files are written by code here, nothing binary is committed). Each case
 * is a command line for the CLI plus what its error must name. Built as
 * an attacker and a tired user would: huge header sizes, FIFOs and
 * folders where files belong, NaN and 1e30 geometry, duplicate and
 * ragged CSV, YAML of the wrong shape, results lines of the wrong type,
 * empty and clashing flags.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { encodeNifti } from "../../sim/nifti.ts";
import { exportTinyCohort } from "../real/fixtures.ts";

/** Input type of a case, for the per-type counts. */
export type InputType =
  | "nifti"
  | "dicom"
  | "manifest"
  | "ehr"
  | "cohort-yaml"
  | "study-yaml"
  | "results"
  | "model"
  | "cli";

/** One malformed input and what its error must say. */
export interface BadCase {
  /** Input type. */
  type: InputType;
  /** Short description. */
  name: string;
  /** CLI arguments (after `deno task`), `-q` and `-o` added by the runner. */
  args: string[];
  /** The one-line error must match this (file, field, what is expected). */
  expect: RegExp;
  /** Exit code expected (2 = user error, 1 = report found nothing). */
  code?: number;
  /** `-o` is given by the case itself (or must not be added). */
  ownOut?: boolean;
}

// ---------------------------------------------------------------- NIfTI

const N = 16;

function baseNifti(): Uint8Array {
  const data = new Float32Array(N ** 3).fill(-700);
  return encodeNifti(
    { dims: [N, N, N], spacing: [1, 1, 1], origin: [-7.5, -7.5, -7.5], data },
    false,
  );
}

type Patch = (v: DataView) => void;

function niftiWith(patch: Patch, cut?: number): Uint8Array {
  const b = baseNifti();
  patch(new DataView(b.buffer));
  return cut === undefined ? b : b.slice(0, cut);
}

// NIfTI-1 header offsets (little endian).
const DIM = 40, DATATYPE = 70, BITPIX = 72, PIXDIM = 76, VOX_OFFSET = 108;
const SCL_SLOPE = 112, SCL_INTER = 116, QFORM = 252, SFORM = 254;
const QOFFSET = 268, SROW = 280;

const niftiCases: [string, () => Uint8Array, RegExp][] = [
  [
    "huge dim[1]",
    () => niftiWith((v) => v.setInt16(DIM + 2, 32767, true)),
    /header field dim.*needs \d+ bytes/,
  ],
  ["huge dims all", () =>
    niftiWith((v) => {
      for (let i = 1; i <= 3; i++) v.setInt16(DIM + 2 * i, 32767, true);
    }), /header field dim \(32767x32767x32767/],
  [
    "negative dim",
    () => niftiWith((v) => v.setInt16(DIM + 4, -5, true)),
    /header field dim is \[.*-5.*positive integer sizes/,
  ],
  [
    "dim[0] = 0",
    () => niftiWith((v) => v.setInt16(DIM, 0, true)),
    /header field dim is \[0,.*dim\[0\] in 1\.\.7/,
  ],
  [
    "dim[0] = 9",
    () => niftiWith((v) => v.setInt16(DIM, 9, true)),
    /dim\[0\] in 1\.\.7/,
  ],
  ["4D volume", () =>
    niftiWith((v) => {
      v.setInt16(DIM, 4, true);
      v.setInt16(DIM + 8, 2, true);
    }), /needs \d+ bytes|4D/],
  ["2D image", () =>
    niftiWith((v) => {
      v.setInt16(DIM, 2, true);
    }), /2D.*3D volume is needed/],
  ["complex datatype", () =>
    niftiWith((v) => {
      v.setInt16(DATATYPE, 32, true);
      v.setInt16(BITPIX, 64, true);
    }), /needs \d+ bytes|datatype 32 is not supported/],
  ["RGB datatype", () =>
    niftiWith((v) => {
      v.setInt16(DATATYPE, 128, true);
      v.setInt16(BITPIX, 24, true);
    }), /datatype 128 is not supported; expected a scalar type/],
  [
    "vox_offset beyond file",
    () => niftiWith((v) => v.setFloat32(VOX_OFFSET, 1e9, true)),
    /vox_offset 1000000000|unreadable NIfTI/,
  ],
  [
    "pixdim 1e30 (no transform)",
    () =>
      niftiWith((v) => {
        v.setInt16(QFORM, 0, true);
        v.setInt16(SFORM, 0, true);
        v.setFloat32(PIXDIM + 4, 1e30, true);
      }),
    /\(pixdim\): voxel size 1\.0\d*e\+30 mm along axis 0; expected 0\.001 to 1000 mm/,
  ],
  ["pixdim 0 (no transform)", () =>
    niftiWith((v) => {
      v.setInt16(QFORM, 0, true);
      v.setInt16(SFORM, 0, true);
      v.setFloat32(PIXDIM + 8, 0, true);
    }), /\(pixdim\): voxel size 0 mm along axis 1/],
  ["srow 1e30", () =>
    niftiWith((v) => {
      v.setInt16(SFORM, 1, true);
      v.setFloat32(SROW, 1e30, true);
    }), /\(srow_x\/y\/z\): voxel size .*e\+30 mm/],
  ["srow NaN", () =>
    niftiWith((v) => {
      v.setInt16(SFORM, 1, true);
      v.setFloat32(SROW + 4, NaN, true);
    }), /\(srow_x\/y\/z\): affine has a non-finite entry/],
  ["sform origin 1e30", () =>
    niftiWith((v) => {
      v.setInt16(SFORM, 1, true);
      v.setFloat32(SROW + 12, 1e30, true);
    }), /\(srow_x\/y\/z\): origin .* expected each coordinate within/],
  ["qoffset NaN", () =>
    niftiWith((v) => {
      v.setInt16(SFORM, 0, true);
      v.setInt16(QFORM, 1, true);
      v.setFloat32(QOFFSET, NaN, true);
    }), /\(quatern_\*\/qoffset_\*\/pixdim\): affine has a non-finite entry/],
  ["singular sform", () =>
    niftiWith((v) => {
      v.setInt16(SFORM, 1, true);
      // Rows (1, 1, 0) twice: every axis has a length, yet two coincide.
      for (const r of [0, 1]) {
        v.setFloat32(SROW + 16 * r, 1, true);
        v.setFloat32(SROW + 16 * r + 4, 1, true);
        v.setFloat32(SROW + 16 * r + 8, 0, true);
      }
    }), /singular/],
  ["scl_inter NaN with slope 2", () =>
    niftiWith((v) => {
      v.setFloat32(SCL_SLOPE, 2, true);
      v.setFloat32(SCL_INTER, NaN, true);
    }), /header field scl_inter is NaN.*expected a finite intercept/],
  [
    "cut inside header",
    () => niftiWith(() => {}, 200),
    /not a NIfTI|unreadable NIfTI|truncated/,
  ],
  [
    "cut inside data",
    () => niftiWith(() => {}, 352 + 1000),
    /truncated NIfTI or corrupt header.*needs 16384 bytes of image data, the file has 1000/,
  ],
  ["empty file", () => new Uint8Array(0), /not a NIfTI file/],
  [
    "random bytes",
    () => Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24),
    /not a NIfTI file/,
  ],
  [
    "gzip of garbage",
    () => new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]),
    /unreadable gzip stream/,
  ],
];

// ---------------------------------------------------------------- DICOM

function el(
  group: number,
  elem: number,
  vr: string,
  value: Uint8Array,
): Uint8Array {
  const long = ["OB", "OW", "SQ", "UN", "UT"].includes(vr);
  let v = value;
  if (v.length % 2) {
    const pad = new Uint8Array(v.length + 1);
    pad.set(v);
    pad[v.length] = vr === "UI" || vr === "OB" || vr === "OW" ? 0 : 0x20;
    v = pad;
  }
  const head = new Uint8Array(long ? 12 : 8);
  const d = new DataView(head.buffer);
  d.setUint16(0, group, true);
  d.setUint16(2, elem, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) d.setUint32(8, v.length, true);
  else d.setUint16(6, v.length, true);
  const out = new Uint8Array(head.length + v.length);
  out.set(head);
  out.set(v, head.length);
  return out;
}

const txt = (s: string) => new TextEncoder().encode(s);
const us = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);

/** Tag overrides for one slice: key "gggg,eeee" -> [VR, value] or null to drop. */
export type Tags = Record<string, [string, Uint8Array] | null>;

function dicomSlice(k: number, over: Tags = {}): Uint8Array {
  const rows = 8, cols = 8;
  const px = new Int16Array(rows * cols).fill(-1000 + 10 * k);
  const tags: Tags = {
    "0008,0060": ["CS", txt("CT")],
    "0020,000e": ["UI", txt("1.2.3.4")],
    "0020,0032": ["DS", txt(`-4\\-4\\${2 * k}`)],
    "0020,0037": ["DS", txt("1\\0\\0\\0\\1\\0")],
    "0028,0002": ["US", us(1)],
    "0028,0004": ["CS", txt("MONOCHROME2")],
    "0028,0010": ["US", us(rows)],
    "0028,0011": ["US", us(cols)],
    "0028,0030": ["DS", txt("1\\1")],
    "0028,0100": ["US", us(16)],
    "0028,0101": ["US", us(16)],
    "0028,0102": ["US", us(15)],
    "0028,0103": ["US", us(1)],
    "0028,1052": ["DS", txt("0")],
    "0028,1053": ["DS", txt("1")],
    "7fe0,0010": ["OW", new Uint8Array(px.buffer)],
    ...over,
  };
  const body = Object.entries(tags)
    .filter((e): e is [string, [string, Uint8Array]] => e[1] !== null)
    .sort(([a], [b]) => a < b ? -1 : 1)
    .map(([key, [vr, v]]) => {
      const [g, e] = key.split(",").map((h) => parseInt(h, 16));
      return el(g, e, vr, v);
    });
  const syntax = el(0x0002, 0x0010, "UI", txt("1.2.840.10008.1.2.1"));
  const metaLen = el(
    0x0002,
    0x0000,
    "UL",
    new Uint8Array(new Uint32Array([syntax.length]).buffer),
  );
  const parts = [
    new Uint8Array(128),
    txt("DICM"),
    metaLen,
    syntax,
    ...body,
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Writes a 4-slice 8x8 CT series into `dir`; `over` patches every slice,
 * `overOne` only the second.
 *
 * @example
 * ```ts
 * writeSeries("/tmp/s", {}, { "0028,1053": ["DS", txt("abc")] });
 * ```
 */
export function writeSeries(
  dir: string,
  over: Tags = {},
  overOne: Tags = {},
): void {
  mkdirSync(dir, { recursive: true });
  for (let k = 0; k < 4; k++) {
    Deno.writeFileSync(
      join(dir, `s${k}.dcm`),
      dicomSlice(k, { ...over, ...(k === 1 ? overOne : {}) }),
    );
  }
}

const dicomCases: [string, Tags, Tags, RegExp][] = [
  [
    "Rows 65535 (short pixel data)",
    { "0028,0010": ["US", us(65535)] },
    {},
    /PixelData \(7FE0,0010\) has 128 bytes; Rows 65535/,
  ],
  [
    "Columns 0",
    { "0028,0011": ["US", us(0)] },
    {},
    /Rows \(0028,0010\) \/ Columns \(0028,0011\) missing or zero/,
  ],
  [
    "NumberOfFrames 1e9",
    { "0028,0008": ["IS", txt("1000000000")] },
    {},
    /NumberOfFrames \(0028,0008\) is 1000000000; expected a whole number from 1 to 65536/,
  ],
  [
    "NumberOfFrames -3",
    { "0028,0008": ["IS", txt("-3")] },
    {},
    /NumberOfFrames \(0028,0008\) is -3/,
  ],
  [
    "RescaleSlope abc",
    {},
    { "0028,1053": ["DS", txt("abc")] },
    /RescaleSlope \(0028,1053\) "abc".*expected numbers/,
  ],
  [
    "RescaleSlope 1e30",
    {},
    { "0028,1053": ["DS", txt("1e30")] },
    /RescaleSlope \(0028,1053\) "1e30"/,
  ],
  [
    "RescaleIntercept NaN",
    {},
    { "0028,1052": ["DS", txt("NaN")] },
    /RescaleIntercept \(0028,1052\) "NaN"/,
  ],
  [
    "ImagePositionPatient NaN",
    {},
    { "0020,0032": ["DS", txt("NaN\\0\\2")] },
    /missing ImagePositionPatient \(0020,0032\)/,
  ],
  [
    "ImagePositionPatient 1e30 everywhere",
    { "0020,0032": ["DS", txt("1e30\\0\\0")] },
    {},
    /slice spacing|origin|non-finite/,
  ],
  [
    "PixelSpacing 0",
    { "0028,0030": ["DS", txt("0\\1")] },
    {},
    /missing or invalid PixelSpacing \(0028,0030\)/,
  ],
  [
    "PixelSpacing 1e30",
    { "0028,0030": ["DS", txt("1e30\\1e30")] },
    {},
    /voxel size 1e\+30 mm along axis 0; expected 0\.001 to 1000 mm/,
  ],
  [
    "orientation all zero",
    { "0020,0037": ["DS", txt("0\\0\\0\\0\\0\\0")] },
    {},
    /ImageOrientationPatient .* is not two orthogonal unit vectors/,
  ],
  [
    "BitsAllocated 12",
    { "0028,0100": ["US", us(12)] },
    {},
    /BitsAllocated \(0028,0100\) is 12; expected 8, 16 or 32/,
  ],
  [
    "RGB",
    { "0028,0004": ["CS", txt("RGB")] },
    {},
    /PhotometricInterpretation RGB.*expected a greyscale/,
  ],
  [
    "two series in one folder",
    {},
    { "0020,000e": ["UI", txt("9.9.9")] },
    /SeriesInstanceUID 9\.9\.9 differs/,
  ],
  ["pixel data cut to 10 bytes", {}, {
    "7fe0,0010": ["OW", new Uint8Array(10)],
  }, /PixelData \(7FE0,0010\) has 10 bytes/],
  [
    "no pixel spacing",
    { "0028,0030": null },
    {},
    /missing or invalid PixelSpacing/,
  ],
];

// ------------------------------------------------------------- the corpus

/** Where the corpus lives and what it holds. */
export interface Corpus {
  /** Temp folder (remove after the tests). */
  root: string;
  /** Every case. */
  cases: BadCase[];
  /** A valid cohort YAML (for the --check and fuzz baselines). */
  goodConfig: string;
  /** A valid results file. */
  goodResults: string;
}

function mkfifo(path: string): boolean {
  const r = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  return r.success;
}

/**
 * Generates the corpus under a new temp folder.
 *
 * @example
 * ```ts
 * const { cases } = await buildCorpus();
 * ```
 */
export function buildCorpus(): Corpus {
  const root = Deno.makeTempDirSync({ prefix: "mmjepa_bad_" });
  const cohort = join(root, "cohort");
  mkdirSync(cohort);
  exportTinyCohort(cohort);
  const manifest = Deno.readTextFileSync(join(cohort, "manifest.csv"))
    .trimEnd().split("\n");
  const ehr = Deno.readTextFileSync(join(cohort, "ehr.csv")).trimEnd()
    .split("\n");
  const header = manifest[0].split(",");
  const ehrHeader = ehr[0].split(",");
  const cases: BadCase[] = [];
  let n = 0;

  // A cohort whose manifest and EHR are the given lines; returns its YAML.
  const cohortWith = (
    mLines: string[],
    eLines: string[] = ehr,
    extra = "",
    rawYaml?: string,
  ): string => {
    const tag = `c${n++}`;
    Deno.writeTextFileSync(
      join(cohort, `${tag}-m.csv`),
      mLines.join("\n") + "\n",
    );
    Deno.writeTextFileSync(
      join(cohort, `${tag}-e.csv`),
      eLines.join("\n") + "\n",
    );
    const yaml = join(cohort, `${tag}.yaml`);
    Deno.writeTextFileSync(
      yaml,
      rawYaml ??
        `manifest: ${tag}-m.csv\nehr: { format: wide, path: ${tag}-e.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\n${extra}`,
    );
    return yaml;
  };
  const setCell = (lines: string[], line: number, col: string, v: string) => {
    const out = [...lines];
    const cells = out[line - 1].split(",");
    cells[header.indexOf(col)] = v;
    out[line - 1] = cells.join(",");
    return out;
  };
  const train = (yaml: string) => ["train", "--config", yaml];
  const good = cohortWith(manifest);

  // NIfTI: the bad scan on manifest row 2.
  for (const [name, make, expect] of niftiCases) {
    const file = `bad-${n}.nii`;
    Deno.writeFileSync(join(cohort, "images", file), make());
    cases.push({
      type: "nifti",
      name,
      args: train(cohortWith(setCell(manifest, 2, "path", `images/${file}`))),
      expect: new RegExp(`row 2, field "path".*${file}.*` + expect.source),
    });
  }
  const scanFifo = join(cohort, "images", "fifo.nii");
  if (mkfifo(scanFifo)) {
    cases.push({
      type: "nifti",
      name: "scan is a FIFO",
      args: train(cohortWith(setCell(manifest, 2, "path", "images/fifo.nii"))),
      expect:
        /row 2, field "path".*fifo\.nii: a FIFO \(named pipe\); expected the scan as a regular file/,
    });
  }
  cases.push({
    type: "nifti",
    name: "scan path is '.'",
    args: train(cohortWith(setCell(manifest, 2, "path", "."))),
    expect:
      /row 2, field "path".*(a directory; expected the DICOM file as a regular file|not a DICOM file)/,
  });

  // DICOM series folders.
  for (const [name, over, overOne, expect] of dicomCases) {
    const dir = join(cohort, "dicom", `d${n++}`);
    writeSeries(dir, over, overOne);
    cases.push({
      type: "dicom",
      name,
      args: train(cohortWith(setCell(manifest, 2, "path", dir))),
      expect: new RegExp(`row 2, field "path".*` + expect.source),
    });
  }
  {
    const dir = join(cohort, "dicom", "with-subfolder");
    writeSeries(dir);
    mkdirSync(join(dir, "zz-sub"));
    cases.push({
      type: "dicom",
      name: "a subfolder inside the series",
      args: train(cohortWith(setCell(manifest, 2, "path", dir))),
      expect: /zz-sub: a directory; expected the DICOM file as a regular file/,
    });
    const fifoDir = join(cohort, "dicom", "with-fifo");
    writeSeries(fifoDir);
    if (mkfifo(join(fifoDir, "s9.dcm"))) {
      cases.push({
        type: "dicom",
        name: "a FIFO inside the series",
        args: train(cohortWith(setCell(manifest, 2, "path", fifoDir))),
        expect:
          /s9\.dcm: a FIFO \(named pipe\); expected the DICOM file as a regular file/,
      });
    }
    const empty = join(cohort, "dicom", "empty-file");
    writeSeries(empty);
    Deno.writeFileSync(join(empty, "s0.dcm"), new Uint8Array(0));
    cases.push({
      type: "dicom",
      name: "an empty slice file",
      args: train(cohortWith(setCell(manifest, 2, "path", empty))),
      expect: /s0\.dcm: not a DICOM file \(no "DICM" at byte 128\)/,
    });
  }

  // Manifest tables.
  const manifestCases: [string, string[], RegExp][] = [
    [
      "duplicate label column",
      manifest.map((l, i) => i === 0 ? `${l},label` : `${l},1`),
      /line 1: column name "label" appears twice \(columns \d+ and \d+\); expected unique column names/,
    ],
    [
      "empty header name",
      manifest.map((l, i) => i === 0 ? `${l},` : `${l},x`),
      /line 1: column \d+ of the header is empty; expected a column name/,
    ],
    ["ragged row", [
      ...manifest.slice(0, 3),
      "p1,only-two",
      ...manifest.slice(3),
    ], /m\.csv line 4: invalid CSV \(expect \d+, got 2 on line 4\)/],
    ["unclosed quote at line 3", [
      manifest[0],
      manifest[1],
      `"${manifest[2]}`,
      ...manifest.slice(3),
    ], /m\.csv line 3: a quoted field opens here and is never closed/],
    ["missing patient_id column", [
      manifest[0].replace("patient_id", "pid"),
      ...manifest.slice(1),
    ], /missing column\(s\) "patient_id"/],
    ["empty manifest", [""], /empty file; expected a header row/],
    [
      "label 2",
      setCell(manifest, 3, "label", "2"),
      /row 3, field "label".*label "2" is not 0, 1 or empty/,
    ],
    [
      "label yes",
      setCell(manifest, 2, "label", "yes"),
      /row 2, field "label".*label "yes"/,
    ],
    [
      "nodule x abc",
      setCell(manifest, 2, "nodule_x_mm", "abc"),
      /row 2, field "nodule_x_mm".*nodule coordinate "abc" is not a number/,
    ],
    [
      "diameter -1",
      setCell(manifest, 2, "diameter_mm", "-1"),
      /row 2, field "diameter_mm".*diameter "-1" is not a non-negative number/,
    ],
    [
      "scan date 2020-02-30",
      setCell(manifest, 2, "scan_date", "2020-02-30"),
      /row 2, field "scan_date".*unparseable date "2020-02-30"; expected an ISO 8601 date \(yyyy-mm-dd/,
    ],
    [
      "missing scan file",
      setCell(manifest, 2, "path", "images/none.nii"),
      /row 2, field "path".*missing file/,
    ],
    [
      "unknown image format",
      setCell(manifest, 2, "path", "manifest.csv"),
      /row 2, field "path".*unknown image format; expected \.nii, \.nii\.gz, \.dcm/,
    ],
    ["binary manifest", [
      String.fromCharCode(
        ...Array.from({ length: 300 }, (_, i) => (i * 7) % 256),
      ),
    ], /invalid CSV|missing column|never closed|appears twice|header is empty/],
  ];
  for (const [name, lines, expect] of manifestCases) {
    cases.push({
      type: "manifest",
      name,
      args: train(cohortWith(lines)),
      expect,
    });
  }
  cases.push({
    type: "manifest",
    name: "split 'testing'",
    args: train(
      cohortWith(
        setCell(manifest, 2, "split", "testing"),
        ehr,
        "columns: { split: split }\n",
      ),
    ),
    expect:
      /row 2, field "split".*split "testing" is not one of pretrain, train, val, test/,
  });
  if (mkfifo(join(cohort, "fifo-m.csv"))) {
    cases.push({
      type: "manifest",
      name: "manifest is a FIFO",
      args: train(
        cohortWith(
          [],
          ehr,
          "",
          `manifest: fifo-m.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\n`,
        ),
      ),
      expect:
        /fifo-m\.csv: a FIFO \(named pipe\); expected the CSV table as a regular file/,
    });
  }
  mkdirSync(join(cohort, "dir-m.csv"));
  cases.push({
    type: "manifest",
    name: "manifest is a folder",
    args: train(
      cohortWith(
        [],
        ehr,
        "",
        `manifest: dir-m.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\n`,
      ),
    ),
    expect:
      /dir-m\.csv: (a directory; expected the CSV table as a regular file|.*manifest)/,
  });

  // EHR tables.
  const sig = ehrHeader.findIndex((h) => h.startsWith("sig_"));
  const ehrCell = (line: number, col: number, v: string) => {
    const out = [...ehr];
    const cells = out[line - 1].split(",");
    cells[col] = v;
    out[line - 1] = cells.join(",");
    return out;
  };
  const ehrCases: [string, string[], RegExp][] = [
    [
      "value 1e39 (Infinity in float32)",
      ehrCell(2, sig, "1e39"),
      /row 2, field "sig_000".*value "1e39" is not a number within \+-1e12/,
    ],
    [
      "value 1e13",
      ehrCell(3, sig, "1e13"),
      /row 3, field "sig_000".*value "1e13"/,
    ],
    [
      "value NaN",
      ehrCell(2, sig, "NaN"),
      /row 2, field "sig_000".*value "NaN"/,
    ],
    [
      "value Infinity",
      ehrCell(2, sig, "Infinity"),
      /row 2, field "sig_000".*value "Infinity"/,
    ],
    ["value empty", ehrCell(2, sig, ""), /row 2, field "sig_000".*value ""/],
    [
      "value with unit",
      ehrCell(2, sig, "3.5mg"),
      /row 2, field "sig_000".*value "3\.5mg"/,
    ],
    [
      "duplicate sig column",
      ehr.map((l, i) => i === 0 ? `${l},sig_000` : `${l},0`),
      /e\.csv line 1: column name "sig_000" appears twice/,
    ],
    [
      "ragged EHR row",
      [...ehr.slice(0, 2), "x,y", ...ehr.slice(2)],
      /e\.csv line 3: invalid CSV/,
    ],
    ["unclosed quote in EHR", [
      ...ehr.slice(0, 4),
      `"${ehr[4]}`,
      ...ehr.slice(5),
    ], /e\.csv line 5: a quoted field opens here and is never closed/],
    [
      "unknown patient",
      [...ehr, ehr[1].replace(/^[^,]+/, "ghost")],
      /field "patient_id".*unknown patient id "ghost"/,
    ],
    [
      "EHR date yesterday",
      ehrCell(2, ehrHeader.indexOf("date"), "yesterday"),
      /row 2, field "date".*unparseable date "yesterday"/,
    ],
    [
      "EHR date with an offset out of range",
      ehrCell(2, ehrHeader.indexOf("date"), "2021-03-01T10:00+25:00"),
      /e\.csv.*row 2, field "date".*unparseable date "2021-03-01T10:00\+25:00"; expected an ISO 8601 date .*offset/,
    ],
    [
      "age -3",
      ehrCell(2, ehrHeader.indexOf("age"), "-3"),
      /row 2, field "age".*age "-3" is not a non-negative number/,
    ],
  ];
  for (const [name, lines, expect] of ehrCases) {
    cases.push({
      type: "ehr",
      name,
      args: train(cohortWith(manifest, lines)),
      expect,
    });
  }

  // Cohort YAML.
  const y = (name: string, text: string, expect: RegExp) =>
    cases.push({
      type: "cohort-yaml",
      name,
      args: train(cohortWith(manifest, ehr, "", text)),
      expect,
    });
  Deno.writeTextFileSync(join(cohort, "a-file"), "");
  y(
    "YAML syntax error",
    "manifest: [a, b\nehr: x\n",
    /c\d+\.yaml: not valid YAML: .*line \d+, column \d+$/,
  );
  y("a list, not a mapping", "- manifest.csv\n", /c\d+\.yaml.*mapping/);
  y(
    "unknown key",
    "manifest: manifest.csv\nmanfest: x\n",
    /unknown key "manfest"/,
  );
  y(
    "cacheDir is a file",
    "manifest: manifest.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: a-file\npreprocess: { roiSize: 8 }\n",
    /cacheDir ".*a-file": cannot create .*rois.*expected a writable folder/,
  );
  y("missing manifest file", "manifest: nope.csv\n", /nope\.csv/);
  y(
    "roiSize -1",
    "manifest: manifest.csv\npreprocess: { roiSize: -1 }\n",
    /roiSize/,
  );
  y(
    "splits test 0",
    "manifest: manifest.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\nsplits: { train: 0.8, val: 0.2, test: 0 }\n",
    /splits\.test|test split has 0 positive and 0 negative/,
  );
  y(
    "kfold 1000",
    "manifest: manifest.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\nsplits: { kfold: 1000 }\n",
    /kfold/,
  );
  y(
    "experiment key typo",
    "manifest: manifest.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\nexperiment: { pretrian: { steps: 3 } }\n",
    /experiment.*pretrian/,
  );
  y(
    "non-string method",
    "manifest: manifest.csv\nmethods: [5]\n",
    /c\d+\.yaml: methods\[0\]: expected one of imaging-only, .*, got 5/,
  );
  y(
    "unknown method",
    "manifest: manifest.csv\nmethods: [jepa, foo]\n",
    /c\d+\.yaml: methods\[1\]: expected one of imaging-only, .*, got "foo"/,
  );
  y("empty file", "", /c\d+\.yaml.*(mapping|manifest)/);
  y(
    "internal cohort absent",
    "manifest: manifest.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\ninternalCohort: nowhere\n",
    /no patient in the internal cohort "nowhere"/,
  );
  {
    // Only two labeled internal patients: no test split with both classes.
    const labeled = new Set<string>();
    const few = manifest.map((l, i) => {
      if (i === 0) return l;
      const cells = l.split(",");
      const pid = cells[header.indexOf("patient_id")];
      if (cells[header.indexOf("label")] === "") return l;
      if (labeled.size < 2 || labeled.has(pid)) {
        labeled.add(pid);
        return l;
      }
      cells[header.indexOf("label")] = "";
      return cells.join(",");
    });
    cases.push({
      type: "cohort-yaml",
      name: "two labeled patients",
      args: train(cohortWith(few)),
      expect:
        /the (train|test) split has \d+ positive and \d+ negative labeled patient\(s\).*--allow-undefined-auc/,
    });
  }
  cases.push({
    type: "cohort-yaml",
    name: "--skip-bad with a bad row and an experiment typo",
    args: [
      ...train(
        cohortWith(
          setCell(manifest, 2, "label", "x"),
          ehr,
          "experiment: { finetune: { stpes: 3 } }\n",
        ),
      ),
      "--skip-bad",
    ],
    expect: /experiment.*stpes/,
  });
  cases.push({
    type: "cohort-yaml",
    name: "--check counts every bad record",
    args: [
      ...train(
        cohortWith(
          setCell(setCell(manifest, 3, "label", "2"), 5, "scan_date", "x"),
        ),
      ),
      "--check",
    ],
    expect:
      /check: 2 bad record\(s\) in .*c\d+\.yaml \(all listed above\), first: .*row 3, field "label"/,
  });
  if (mkfifo(join(cohort, "fifo.yaml"))) {
    cases.push({
      type: "cohort-yaml",
      name: "config is a FIFO",
      args: train(join(cohort, "fifo.yaml")),
      expect:
        /fifo\.yaml: a FIFO \(named pipe\); expected the cohort config \(YAML\) as a regular file/,
    });
  }
  cases.push({
    type: "cohort-yaml",
    name: "config is a folder",
    args: train(join(cohort, "images")),
    expect:
      /images: a directory; expected the cohort config \(YAML\) as a regular file/,
  });

  // Study YAML.
  const study = (
    name: string,
    text: string,
    expect: RegExp,
    more: string[] = [],
  ) => {
    const f = join(root, `study-${n++}.yaml`);
    Deno.writeTextFileSync(f, text);
    cases.push({
      type: "study-yaml",
      name,
      args: ["sim", "--quick", "--config", f, ...more],
      expect,
    });
  };
  study(
    "non-string method",
    "methods: [5]\n",
    /study-\d+\.yaml: methods\[0\]: expected one of .*, got 5/,
  );
  study(
    "unknown method",
    "methods: [jepa, foo]\n",
    /study-\d+\.yaml: methods\[1\]: expected one of .*, got "foo"/,
  );
  study(
    "seeds 0",
    "seeds: 0\n",
    /seeds: expected an integer in \[1, 100\], got 0/,
  );
  study(
    "seeds 1.5",
    "seeds: 1.5\n",
    /seeds: expected an integer in \[1, 100\], got 1\.5/,
  );
  study("unknown key", "nmae: x\n", /unknown study key "nmae"/);
  study(
    "YAML syntax error",
    "methods: [jepa\n",
    /not valid YAML: .*line \d+, column \d+$/,
  );
  study(
    "sweep with one value",
    "sweeps: [{ knob: k, kind: labels, path: labelFraction, values: [0.5] }]\n",
    /sweeps\[0\]\.values: expected a list of at least 2 items \(each a number\), got \[0\.5\]/,
  );
  study(
    "label fraction 1.5",
    "sweeps: [{ knob: k, kind: labels, path: labelFraction, values: [0.5, 1.5] }]\n",
    /label fraction 1\.5; expected a number in \(0, 1\]/,
  );
  study(
    "label fraction 0",
    "sweeps: [{ knob: k, kind: labels, path: labelFraction, values: [0, 0.5] }]\n",
    /label fraction 0; expected/,
  );
  study(
    "scenario knob out of range",
    "sweeps: [{ knob: c, kind: scenario, path: latent.crossModalCorrelation, values: [0.5, 7] }]\n",
    /crossModalCorrelation/,
  );
  study(
    "unknown scenario path",
    "sweeps: [{ knob: c, kind: scenario, path: latent.nope, values: [0.1, 0.2] }]\n",
    /nope/,
  );
  study(
    "bad sweep kind",
    "sweeps: [{ knob: c, kind: magic, path: x, values: [0.1, 0.2] }]\n",
    /sweeps\[0\]\.kind: expected one of scenario, external, labels, got "magic"/,
  );
  study(
    "internal test of 0",
    "scenarioOverrides: { internal.test: 0 }\n",
    /internal\.test = 0 patients at prevalence 0\.3 .*at least 5 are needed .*--allow-undefined-auc/,
  );
  study(
    "internal test of 0 (--check)",
    "scenarioOverrides: { internal.test: 0 }\n",
    /internal\.test = 0 patients/,
    ["--check"],
  );
  study(
    "internal train of 3",
    "scenarioOverrides: { internal.train: 3 }\nsweeps: []\n",
    /internal\.train = 3 patients .*at least 2 are needed/,
  );
  study(
    "external of 4",
    "scenarioOverrides: { externals.0.size: 4 }\n",
    /externals\.0\.size \(.*\) = 4 patients/,
  );
  study(
    "a volume-only method on features (--check)",
    "methods: [imaging-only, radiomics-image]\nsweeps: []\n",
    /radiomics-image seed \d+: radiomics-image measures nodules in volumes, but the scenario's imaging\.level is features; run it on volumes \(--level volume/,
    ["--check"],
  );
  study("experiment typo", "experiment: { finetnue: {} }\n", /finetnue/);
  study("a list", "- 1\n", /expected a mapping of study settings/);
  cases.push({
    type: "study-yaml",
    name: "study config is a folder",
    args: ["sim", "--quick", "--config", root],
    expect: /a directory; expected the study config \(YAML\) as a regular file/,
  });

  // Results files.
  const okRow = {
    schema: 1,
    runId: "r1",
    study: "paper",
    scenario: "s",
    method: "jepa",
    seed: 1,
    backend: { name: "cpu", detail: "" },
    versions: {},
    gitCommit: null,
    startedAt: "2020-01-01T00:00:00Z",
    wallSeconds: 1,
    config: {},
    metrics: { internal: { n: 4, nPositive: 2, auc: 0.75, brier: 0.2 } },
    predictions: {
      internal: {
        ids: ["a", "b", "c", "d"],
        labels: [0, 1, 0, 1],
        scores: [0.1, 0.9, 0.6, 0.4],
      },
    },
  };
  const goodResults = join(root, "good.jsonl");
  Deno.writeTextFileSync(goodResults, JSON.stringify(okRow) + "\n");
  const results = (name: string, rows: unknown[], expect: RegExp, code = 2) => {
    const f = join(root, `results-${n++}.jsonl`);
    Deno.writeTextFileSync(
      f,
      rows.map((r) => typeof r === "string" ? r : JSON.stringify(r)).join(
        "\n",
      ) + "\n",
    );
    cases.push({ type: "results", name, args: ["report", f], expect, code });
  };
  results(
    "metrics is a string",
    [{ ...okRow, metrics: "x" }],
    /field "metrics" is "x"; expected an object/,
  );
  results("metrics cohort is a number", [{
    ...okRow,
    metrics: { internal: 3 },
  }], /field "metrics\.internal" is 3/);
  results("auc 2", [{
    ...okRow,
    metrics: { internal: { ...okRow.metrics.internal, auc: 2 } },
  }], /metrics\.internal\.auc" is 2; expected a number in \[0, 1\] or null/);
  results("n negative", [{
    ...okRow,
    metrics: { internal: { ...okRow.metrics.internal, n: -1 } },
  }], /metrics\.internal\.n" is -1/);
  results(
    "seed a string",
    [{ ...okRow, seed: "1" }],
    /field "seed" is "1"; expected an integer/,
  );
  results(
    "runId empty",
    [{ ...okRow, runId: "" }],
    /field "runId" is ""; expected a non-empty string/,
  );
  results(
    "method null",
    [{ ...okRow, method: null }],
    /field "method" is null/,
  );
  results(
    "predictions a list",
    [{ ...okRow, predictions: [] }],
    /field "predictions" is \[\]/,
  );
  results("sweep value NaN-ish", [{
    ...okRow,
    sweep: { knob: "k", value: "x" },
  }], /field "sweep"/);
  results(
    "schema 2",
    [{ ...okRow, schema: 2 }],
    /schema version 2 is not supported/,
  );
  results("not JSON", ["{oops"], /not valid JSON/);
  results("a JSON array", ["[1,2]"], /not a JSON object/);
  results("empty file", [], /no usable results lines/);
  results(
    "conflicting duplicate runId",
    [okRow, {
      ...okRow,
      metrics: { internal: { ...okRow.metrics.internal, auc: 0.5 } },
    }],
    /results-\d+\.jsonl:2: runId r1 also at .*results-\d+\.jsonl:1 with different results/,
    2,
  );
  cases.push({
    type: "results",
    name: "results file is a folder",
    args: ["report", root],
    expect:
      /a directory; expected the results file \(\.jsonl\) as a regular file/,
    code: 2,
  });
  if (mkfifo(join(root, "fifo.jsonl"))) {
    cases.push({
      type: "results",
      name: "results file is a FIFO",
      args: ["report", join(root, "fifo.jsonl")],
      expect: /fifo\.jsonl: a FIFO \(named pipe\)/,
      code: 2,
    });
  }
  cases.push({
    type: "results",
    name: "missing results file",
    args: ["report", join(root, "none.jsonl")],
    expect:
      /none\.jsonl: cannot read results file \(\.jsonl\) \(no such file\)/,
    code: 2,
  });

  // Saved models for predict.
  const model = (
    name: string,
    files: Record<string, string>,
    expect: RegExp,
  ) => {
    const d = join(root, `model-${n++}`);
    mkdirSync(d);
    for (const [f, text] of Object.entries(files)) {
      Deno.writeTextFileSync(join(d, f), text);
    }
    cases.push({
      type: "model",
      name,
      args: ["predict", "--model", d, "--config", good],
      expect,
    });
  };
  model(
    "empty model folder",
    {},
    /--model .*: .*model\.(json|safetensors) is missing; expected a folder written by task train/,
  );
  model(
    "model.json not JSON",
    { "model.json": "{", "model.safetensors": "" },
    /model\.json: not valid JSON/,
  );
  model(
    "model.json null",
    { "model.json": "null", "model.safetensors": "" },
    /model\.json: not valid JSON \(not an object\)/,
  );
  model("model.json of another tool", {
    "model.json": '{"format":"keras"}',
    "model.safetensors": "",
  }, /model\.json: format keras version undefined; expected mmjepa-finetuned/);
  {
    const d = join(root, "model-dir-json");
    mkdirSync(join(d, "model.json"), { recursive: true });
    Deno.writeTextFileSync(join(d, "model.safetensors"), "");
    cases.push({
      type: "model",
      name: "model.json is a folder",
      args: ["predict", "--model", d, "--config", good],
      expect: /model\.json: a directory; expected the model sidecar/,
    });
  }

  // CLI values.
  const used = join(root, "used-out");
  mkdirSync(used);
  Deno.writeTextFileSync(
    join(used, "results.jsonl"),
    JSON.stringify(okRow) + "\n",
  );
  const reported = join(root, "reported-out");
  mkdirSync(reported);
  Deno.writeTextFileSync(join(reported, "report.md"), "# old\n");
  const cli = (name: string, args: string[], expect: RegExp, code = 2) =>
    cases.push({ type: "cli", name, args, expect, code, ownOut: true });
  cli("-o empty", ["-o", "", "sim", "--quick"], /--out: .*empty folder name/);
  cli(
    "--methods empty",
    ["sim", "--quick", "--methods", ""],
    /expected a comma-separated list of methods/,
    1,
  );
  cli(
    "--methods commas only",
    ["sim", "--quick", "--methods", ",,"],
    /expected a comma-separated list/,
    1,
  );
  cli(
    "--methods unknown",
    ["sim", "--quick", "--methods", "jepa,foo"],
    /unknown method "foo" \(one of: imaging-only/,
    1,
  );
  cli(
    "--seed -1",
    ["--seed", "-1", "sim"],
    /expected a non-negative integer/,
    1,
  );
  cli(
    "--workers 0",
    ["sim", "--workers", "0"],
    /expected a positive integer, got "0"/,
    1,
  );
  cli(
    "--out is a file",
    ["-o", join(cohort, "a-file", "x"), "sim", "--quick"],
    /cannot write to/,
    2,
  );
  cli(
    "--out holds results (sim)",
    ["-o", used, "sim", "--quick"],
    /--out .*used-out already holds results\.jsonl \(1 run\(s\)\) from an earlier run; pass --resume .* --force/,
  );
  cli(
    "--out holds results (train)",
    ["-o", used, "train", "--config", good],
    /already holds results\.jsonl/,
  );
  cli(
    "--out holds a report",
    ["-o", reported, "report", goodResults],
    /--out .*reported-out already holds report\.md from an earlier report; pass --force/,
  );
  Deno.writeTextFileSync(join(reported, "predictions.csv"), "old\n");
  cli("--out holds predictions", [
    "-o",
    reported,
    "predict",
    "--model",
    root,
    "--config",
    good,
  ], /already holds predictions\.csv from an earlier predict; pass --force/);
  cli("--resume with --force", [
    "-o",
    used,
    "sim",
    "--quick",
    "--resume",
    "--force",
  ], /--resume and --force cannot be combined/);
  const usedCopy = (name: string) => {
    const d = join(root, name);
    mkdirSync(d);
    Deno.writeTextFileSync(
      join(d, "results.jsonl"),
      JSON.stringify(okRow) + "\n",
    );
    return d;
  };
  {
    const f = join(root, "bad-study-force.yaml");
    // Found by the job validation inside runStudy, not by the YAML reader.
    Deno.writeTextFileSync(f, "scenarioOverrides: { internal.test: 0 }\n");
    cli(
      "--force with a bad study deletes nothing",
      ["-o", usedCopy("used-force-sim"), "sim", "--config", f, "--force"],
      /internal\.test = 0 patients/,
    );
    cli(
      "--force with a bad cohort deletes nothing",
      [
        "-o",
        usedCopy("used-force-train"),
        "train",
        "--config",
        cohortWith(setCell(manifest, 2, "label", "7")),
        "--force",
      ],
      /row 2, field "label"/,
    );
  }
  cli(
    "--quick with --full",
    ["sim", "--quick", "--full"],
    /--quick and --full cannot be combined/,
  );
  cli("train without config", ["train"], /train needs --config/);
  cli(
    "--preset unknown",
    ["sim", "--preset", "nope"],
    /--preset: unknown preset "nope"/,
  );
  cli("--backend tpu", ["--backend", "tpu", "sim"], /Allowed choices are/, 1);

  return { root, cases, goodConfig: good, goodResults };
}
