#!/usr/bin/env python3
"""Live check: Prospect's Arrow IPC frame files against pyarrow and PIL (CTest Peers.arrow).

(a) pyarrow writes, Prospect reads. JPEG frames made with PIL (several sizes, qualities, chroma subsamplings
4:4:4 / 4:2:2 / 4:2:0, progressive, grayscale, with EXIF and comment segments) are written by pyarrow into
frame files: the IPC stream format and the IPC file format, each in several record batches of uneven size
(one of them empty), with columns of every kind a frame column can have - `frame` (string, base64 JPEG, the
ProAssist / HF `datasets` layout with its `huggingface` schema metadata), `raw` (binary), `raw_large`
(large_binary), `frame_large` (large_string, base64) - behind an int64 column and a string column with nulls
(whose buffers the reader must step over); each column holds different pictures. Plus one single-column file
per type (read with no --column: `frame`, else the only binary column), one in the legacy stream framing with
V4 metadata, and a zstd-compressed one, which Prospect must refuse with an error naming the compression.
`prospect frames --file F --column C --dump DIR --pixels` reads each column through Prospect's frame store
(src/data/frame_store.cpp over src/data/arrow_reader.cpp) and writes every frame's encoded bytes and decoded
RGB. Compared: the format, batch count, column names and types and row count Prospect reports against what
pyarrow wrote; sha256 of every frame's bytes against the JPEG PIL made; every decoded pixel against PIL's
decode (exact equality: both use libjpeg-turbo's default accurate DCT and fancy upsampling).

(b) Prospect writes, pyarrow reads. `prospect synth` writes its videos' frame files (src/synth, through
ArrowWriter). pyarrow opens every one (stream or file format by its magic), validates it fully, and the
schema (one `frame` string column, `huggingface` metadata whose features name it), row and batch counts and
every frame (base64-decoded by Python) must equal what `prospect frames` reads back from the same file, bytes
(sha256) and pixels (PIL's decode); each clip's frame range must lie inside its file.

Prints what it compared (files, columns, frames, bytes, pixels) and the first mismatches; exit status 1 on any.
"""
import base64
import hashlib
import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peerlib  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

SEED = 4242
SHOW = 5

# pyarrow type -> the name `prospect frames` reports (data::arrow_type_name).
TYPE_NAMES = {pa.string(): "utf8", pa.large_string(): "large_utf8", pa.binary(): "binary",
              pa.large_binary(): "large_binary", pa.int64(): "int"}
HF_FEATURES = {"frame": {"dtype": "string", "_type": "Value"}}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def make_jpeg(rng, i):
    """One JPEG made with PIL: a picture with gradients, shapes, noise and text, in one of several encodings."""
    w, h = rng.choice([(384, 384), (64, 48), (33, 17), (160, 120), (17, 33), (1, 1), (250, 131)])
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    base = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    noise = np.asarray(np.random.default_rng(rng.randrange(1 << 30)).normal(0, 25, (h, w, 3)), np.float32)
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    d.rectangle([w // 5, h // 4, w // 2, h // 2], fill=(rng.randrange(256), 30, 200))
    d.ellipse([w // 2, h // 3, w - 1, h - 1], outline=(255, 255, 0))
    d.text((2, 2), f"f{i}", fill=(255, 255, 255))
    kind = rng.choice(["default", "q95_444", "q30_422", "progressive", "gray", "exif", "q100", "optimize"])
    buf = io.BytesIO()
    if kind == "default":
        img.save(buf, format="JPEG")
    elif kind == "q95_444":
        img.save(buf, format="JPEG", quality=95, subsampling=0)
    elif kind == "q30_422":
        img.save(buf, format="JPEG", quality=30, subsampling=1)
    elif kind == "progressive":
        img.save(buf, format="JPEG", quality=85, progressive=True)
    elif kind == "gray":
        img.convert("L").save(buf, format="JPEG", quality=80)
    elif kind == "exif":
        exif = Image.Exif()
        exif[0x010F] = "Prospect test camera"
        img.save(buf, format="JPEG", quality=70, exif=exif.tobytes(), comment=b"frame comment")
    elif kind == "q100":
        img.save(buf, format="JPEG", quality=100, subsampling=2)
    else:
        img.save(buf, format="JPEG", quality=60, optimize=True)
    return buf.getvalue(), kind


def pil_rgb(jpeg):
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


# ---------------------------------------------------------------------------------------- writing with pyarrow
def write_arrow(path, schema, batches, file_format, options=None):
    with pa.OSFile(str(path), "wb") as f:
        w = (pa.ipc.new_file(f, schema, options=options) if file_format
             else pa.ipc.new_stream(f, schema, options=options))
        for b in batches:
            w.write_batch(b)
        w.close()


def batched(schema, columns, sizes):
    """Record batches of the given row counts (sum = rows) over equal-length Python column lists."""
    out, start = [], 0
    for n in sizes:
        arrays = [pa.array(col[start:start + n], type=schema.field(k).type) for k, col in enumerate(columns)]
        out.append(pa.record_batch(arrays, schema=schema))
        start += n
    assert start == len(columns[0])
    return out


def build_inputs(work, rng):
    """Writes the pyarrow files; returns [(path, column or None, [jpeg bytes per row], batches, format, schema)]."""
    n = 23
    jpegs = {c: [] for c in ("frame", "raw", "raw_large", "frame_large")}
    kinds = set()
    for c in jpegs:
        for i in range(n):
            j, kind = make_jpeg(rng, i)
            jpegs[c].append(j)
            kinds.add(kind)
    b64 = lambda js: [base64.b64encode(j).decode("ascii") for j in js]  # noqa: E731
    schema = pa.schema([pa.field("index", pa.int64()), pa.field("caption", pa.string()),
                        pa.field("frame", pa.string()), pa.field("raw", pa.binary()),
                        pa.field("raw_large", pa.large_binary()), pa.field("frame_large", pa.large_string())],
                       metadata={b"huggingface": json.dumps({"info": {"features": HF_FEATURES}}).encode()})
    captions = [None if i % 3 == 0 else f"caption {i} " + "é" * (i % 5) for i in range(n)]
    columns = [list(range(n)), captions, b64(jpegs["frame"]), jpegs["raw"], jpegs["raw_large"],
               b64(jpegs["frame_large"])]
    sizes = [7, 1, 0, 9, 6]
    items = []
    for fmt in ("stream", "file"):
        path = work / f"multi_{fmt}.arrow"
        write_arrow(path, schema, batched(schema, columns, sizes), fmt == "file")
        for col in ("frame", "raw", "raw_large", "frame_large"):
            items.append((path, col, jpegs[col], len(sizes), fmt, schema))
    # Single-column files, read without --column (the store picks `frame`, else the only binary column).
    # (b64_legacy_stream: pre-0.15 framing without the continuation marker, and V4 metadata.)
    legacy = pa.ipc.IpcWriteOptions(use_legacy_format=True, metadata_version=pa.ipc.MetadataVersion.V4)
    singles = [("b64_stream", pa.field("frame", pa.string()), b64(jpegs["frame"]), jpegs["frame"], "stream"),
               ("b64_legacy_stream", pa.field("frame", pa.string()), b64(jpegs["frame"]), jpegs["frame"], "stream"),
               ("binary_file", pa.field("jpeg", pa.binary()), jpegs["raw"], jpegs["raw"], "file"),
               ("large_binary_stream", pa.field("image", pa.large_binary()), jpegs["raw_large"], jpegs["raw_large"],
                "stream"),
               ("binary_frame_file", pa.field("frame", pa.binary()), jpegs["raw"], jpegs["raw"], "file")]
    for name, field, values, raw, fmt in singles:
        s = pa.schema([field], metadata={b"huggingface": json.dumps({"info": {"features": HF_FEATURES}}).encode()}
                      if field.name == "frame" else None)
        sz = [10, 10, 3]
        path = work / f"{name}.arrow"
        write_arrow(path, s, batched(s, [values], sz), fmt == "file", legacy if "legacy" in name else None)
        items.append((path, None, raw, len(sz), fmt, s))
    return items, sorted(kinds)


# ---------------------------------------------------------------------------------------- reading with prospect
def prospect_frames(binary, path, column, dump):
    args = ["frames", "--file", path, "--dump", dump, "--pixels"]
    if column:
        args += ["--column", column]
    out = peerlib.run_prospect(binary, args)
    return json.loads(out.strip().splitlines()[-1])


def dumped(dump, i):
    """(encoded bytes, rgb bytes) Prospect wrote for frame i."""
    enc = [p for p in dump.glob(f"{i:06d}.*") if p.suffix != ".rgb"]
    if len(enc) != 1:
        return None, None
    rgb = dump / f"{i:06d}.rgb"
    return enc[0].read_bytes(), rgb.read_bytes() if rgb.exists() else None


class Tally:
    def __init__(self):
        self.frames = self.bytes = self.pixels = 0
        self.bad = []

    def frame(self, where, i, want_jpeg, got_enc, got_rgb, ref_rgb=None):
        self.frames += 1
        if got_enc is None:
            self.bad.append(f"{where} frame {i}: prospect wrote no encoded file")
            return
        if sha(got_enc) != sha(want_jpeg):
            k = next((j for j in range(min(len(got_enc), len(want_jpeg))) if got_enc[j] != want_jpeg[j]),
                     min(len(got_enc), len(want_jpeg)))
            self.bad.append(f"{where} frame {i}: bytes differ: pyarrow/PIL {len(want_jpeg)} B sha256 "
                            f"{sha(want_jpeg)[:16]}, prospect {len(got_enc)} B sha256 {sha(got_enc)[:16]}; first "
                            f"difference at byte {k}: {want_jpeg[k:k + 8].hex()} vs {got_enc[k:k + 8].hex()}")
            return
        self.bytes += len(got_enc)
        ref = pil_rgb(want_jpeg) if ref_rgb is None else ref_rgb
        if got_rgb is None or len(got_rgb) != ref.nbytes:
            self.bad.append(f"{where} frame {i}: decoded size differs: PIL {ref.shape} = {ref.nbytes} B, prospect "
                            f"{None if got_rgb is None else len(got_rgb)} B")
            return
        got = np.frombuffer(got_rgb, np.uint8).reshape(ref.shape)
        if not np.array_equal(got, ref):
            diff = np.abs(got.astype(int) - ref.astype(int))
            y, x, c = np.unravel_index(int(diff.argmax()), diff.shape)
            self.bad.append(f"{where} frame {i}: pixels differ ({ref.shape[1]}x{ref.shape[0]}): "
                            f"{int((diff > 0).sum())} values, max |diff| {int(diff.max())} at (y {y}, x {x}, c {c}): "
                            f"PIL {int(ref[y, x, c])}, prospect {int(got[y, x, c])}")
            return
        self.pixels += ref.nbytes


def check_summary(report, where, summary, fmt, batches, schema, rows):
    want_cols = [{"name": f.name, "type": TYPE_NAMES.get(f.type, str(f.type))} for f in schema]
    ok = (summary.get("format") == f"arrow_{fmt}" and summary.get("batches") == batches
          and summary.get("columns") == want_cols and summary.get("frames") == rows)
    report.require(f"{where}: format, batches, columns, rows as pyarrow's", ok,
                   "" if ok else f"prospect {summary} vs pyarrow arrow_{fmt}, {batches} batches, {want_cols}, "
                   f"{rows} rows")


def part_a(binary, work, report):
    rng = random.Random(SEED)
    src = peerlib.fresh_dir(work / "pyarrow")
    items, kinds = build_inputs(src, rng)
    print(f"(a) {len(items)} (file, column) pairs over {len({p for p, *_ in items})} files written by pyarrow "
          f"{pa.__version__}; JPEG kinds: {', '.join(kinds)}")
    tally = Tally()
    for k, (path, column, jpegs, batches, fmt, schema) in enumerate(items):
        where = f"{path.name}[{column or 'default'}]"
        dump = work / "dump_a" / f"{k:02d}"
        summary = prospect_frames(binary, path, column, dump)
        check_summary(report, where, summary, fmt, batches, schema, len(jpegs))
        for i, j in enumerate(jpegs):
            enc, rgb = dumped(dump, i)
            tally.frame(where, i, j, enc, rgb)
    print(f"(a) frames compared: {tally.frames}; bytes equal: {tally.bytes} B; decoded values equal: {tally.pixels}; "
          f"mismatches: {len(tally.bad)}")
    for b in tally.bad[:SHOW]:
        print("  " + b)
    report.require(f"(a) every frame's bytes and pixels equal ({tally.frames} frames)", not tally.bad)

    # A body-compressed file (pyarrow's zstd) is not readable here: one clear error, not wrong bytes.
    path = src / "zstd_stream.arrow"
    s = pa.schema([pa.field("frame", pa.binary())])
    write_arrow(path, s, batched(s, [items[1][2]], [23]), False, pa.ipc.IpcWriteOptions(compression="zstd"))
    r = subprocess.run([str(binary), "frames", "--file", str(path), "--dump", str(work / "dump_zstd")],
                       capture_output=True, text=True)
    print(f"$ prospect frames --file {path.name} ...: exit {r.returncode}: {r.stderr.strip()[:300]}")
    report.require("(a) a zstd-compressed file is refused with an error naming the compression",
                   r.returncode == 1 and "ZSTD" in r.stderr and "compression" in r.stderr)


def part_b(binary, work, report):
    out = work / "synth"
    peerlib.run_prospect(binary, ["synth", "--out", out, "--no-model", "--train-videos", 3, "--val-videos", 1,
                                  "--test-videos", 1, "--image-size", 48, "--seed", 5])
    files = sorted((out / "frames").glob("*.arrow"))
    report.require("(b) synth wrote frame files", len(files) > 0, f"{len(files)} files")
    tally = Tally()
    n_rows = n_batches = 0
    bad_schema = []
    rows_of = {}
    for k, path in enumerate(files):
        data = path.read_bytes()
        is_file = data[:6] == b"ARROW1"
        reader = pa.ipc.open_file(pa.BufferReader(data)) if is_file else pa.ipc.open_stream(pa.BufferReader(data))
        if is_file:
            batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        else:
            batches = list(reader)
        table = pa.Table.from_batches(batches, schema=reader.schema)
        table.validate(full=True)
        schema = reader.schema
        meta = schema.metadata or {}
        try:
            feats = json.loads(meta.get(b"huggingface", b"{}"))["info"]["features"]
        except (KeyError, ValueError):
            feats = None
        if schema.names != ["frame"] or schema.field("frame").type != pa.string() or feats != HF_FEATURES:
            bad_schema.append(f"{path.name}: schema {schema} metadata {meta}")
        n_rows += table.num_rows
        n_batches += len(batches)
        rows_of[f"frames/{path.name}"] = table.num_rows
        dump = work / "dump_b" / f"{k:02d}"
        summary = prospect_frames(binary, path, None, dump)
        check_summary(report, path.name, summary, "file" if is_file else "stream", len(batches), schema,
                      table.num_rows)
        for i, v in enumerate(table.column("frame").to_pylist()):
            jpeg = base64.b64decode(v, validate=True)
            enc, rgb = dumped(dump, i)
            tally.frame(path.name, i, jpeg, enc, rgb)
    for b in bad_schema[:SHOW]:
        print("  " + b)
    report.require("(b) pyarrow reads every synth frame file: one `frame` string column, HF features metadata",
                   not bad_schema, f"{len(bad_schema)} files differ")
    # Each clip's frame range lies inside its frames file (what pyarrow counts).
    out_of_range = []
    n_clips = 0
    for split in ("train", "val", "test"):
        for clip in json.loads((out / f"{split}.json").read_text()):
            n_clips += 1
            rows = rows_of.get(clip["frames_file"])
            if rows is None or not (0 <= clip["start_frame_idx"] < clip["end_frame_idx"] <= rows):
                out_of_range.append(f"{split} {clip['video_uid']}: {clip['frames_file']} "
                                    f"[{clip['start_frame_idx']}, {clip['end_frame_idx']}) vs {rows} rows")
    print(f"(b) {len(files)} synth files, {n_batches} record batches, {n_rows} rows read by pyarrow; frames compared "
          f"with prospect: {tally.frames}; bytes equal: {tally.bytes} B; decoded values equal: {tally.pixels}; "
          f"mismatches: {len(tally.bad)}; clips checked: {n_clips}")
    for b in (tally.bad + out_of_range)[:SHOW]:
        print("  " + b)
    report.require(f"(b) every synth frame equal in pyarrow and prospect ({tally.frames} frames)",
                   not tally.bad and tally.frames == n_rows)
    report.require(f"(b) every clip's frames lie inside its file ({n_clips} clips)", not out_of_range)


def main():
    args = peerlib.parse_args(__doc__.splitlines()[0])
    started = time.time()
    work = peerlib.fresh_dir(args.work)
    report = peerlib.Report()
    part_a(args.prospect, work, report)
    part_b(args.prospect, work, report)
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
