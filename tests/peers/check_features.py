#!/usr/bin/env python3
"""Live check: Prospect's frame feature files against the Python safetensors package (CTest Peers.features).

(a) Python writes, Prospect reads. safetensors.numpy (F32, F16) and safetensors.torch (BF16) write feature
files as docs/DATA.md §3.4 shows them, with a frame_index that has a gap, beside DST clips that name only a
`features_file`. `prospect validate --data-root` must accept the clips the files cover and, for a clip that
runs into the gap, report exactly how many frames are missing and the first; a file with I32 features and one
with a decreasing frame_index must be refused with their messages.

(b) Prospect writes, Python reads. `prospect synth --features` (K = 4 tokens, D = 64, F32 and BF16) writes one
features file per video. safetensors.safe_open reads every one: tensor names, dtypes, shapes [F, K, D] and
[F], frame_index = 0..F-1 with F = the rows pyarrow counts in the video's frames file, the metadata, every
clip's features_file. The features are recomputed here from the docs' recipe (DATA.md §3.5: splitmix64
Box-Muller weights from the seed "prospect", 8 x 8 cells per region, tanh) on the frames PIL decodes from the
JPEGs in the frames file; Prospect encodes the frames before JPEG compression, so the two agree up to the
JPEG error, while an encoder with another seed disagrees by the size of the features themselves. BF16 files
must equal the F32 ones rounded to bfloat16.

Prints what it compared (files, rows, values, errors); exit status 1 on any mismatch.
"""
import base64
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peerlib  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import save_file as save_numpy  # noqa: E402
from safetensors.torch import save_file as save_torch  # noqa: E402

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
ENCODER_SEED = 0x70726F7370656374  # "prospect"
K, D = 4, 64


# ---- the recipe of docs/DATA.md §3.5, written from the docs -------------------------------------------------

def splitmix64(x):
    x = (x + GAMMA) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def gaussian(seed, n, scale):
    s = seed
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        z1 = splitmix64(s)
        s = (s + GAMMA) & MASK
        z2 = splitmix64(s)
        s = (s + GAMMA) & MASK
        u1 = 1.0 - (z1 >> 11) * 2.0**-53
        u2 = (z2 >> 11) * 2.0**-53
        out[i] = scale * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return out.astype(np.float32).astype(np.float64)


class Encoder:
    def __init__(self, tokens, dim, seed=ENCODER_SEED):
        self.k, self.d, self.g = tokens, dim, int(round(math.sqrt(tokens)))
        self.w1 = gaussian(splitmix64(seed ^ 1), dim * 192, 4.0 / math.sqrt(192)).reshape(dim, 192)
        self.w2 = gaussian(splitmix64(seed ^ 2), dim * dim, 1.0 / math.sqrt(dim)).reshape(dim, dim)
        self.pos = gaussian(splitmix64(seed ^ 3), tokens * dim, 0.5).reshape(tokens, dim)

    def encode(self, rgb):  # rgb: H x W x 3 uint8
        H, W, _ = rgb.shape
        out = np.empty((self.k, self.d), dtype=np.float64)
        for k in range(self.k):
            gi, gj = divmod(k, self.g)
            y0, y1 = gi * H // self.g, (gi + 1) * H // self.g
            x0, x1 = gj * W // self.g, (gj + 1) * W // self.g
            h, w = y1 - y0, x1 - x0
            x = np.empty((8, 8, 3))
            for u in range(8):
                ya = y0 + u * h // 8
                yb = max(y0 + (u + 1) * h // 8, ya + 1)
                for v in range(8):
                    xa = x0 + v * w // 8
                    xb = max(x0 + (v + 1) * w // 8, xa + 1)
                    x[u, v] = rgb[ya:yb, xa:xb].reshape(-1, 3).astype(np.float64).mean(0) / 255.0 - 0.5
            a = self.pos[k] + self.w1 @ x.reshape(-1)
            out[k] = self.w2 @ np.tanh(a)
        return out.astype(np.float32)


def bf16_round(a):
    """float32 -> bfloat16 -> float32, round to nearest even (torch's conversion)."""
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(torch.bfloat16).to(torch.float32).numpy()


# ---- (a) Python writes, Prospect reads ---------------------------------------------------------------------

def dst_clip(uid, features_file, start, end):
    return {"video_uid": uid, "features_file": features_file, "start_frame_idx": start, "end_frame_idx": end,
            "fps": 2, "dst": [{"id": "S1", "name": "Open the box."}],
            "conversation": [{"role": "DST_UPDATE", "content": [{"id": "S1", "transition": "start"}],
                              "time": (start + 0.5) / 2.0}]}


def part_a(prospect, work, report):
    print("(a) Python's safetensors writes feature files, prospect validate reads them")
    root = work / "a"
    (root / "feats").mkdir(parents=True)
    rng = np.random.default_rng(7)
    index = np.concatenate([np.arange(10, 30), np.arange(40, 50)]).astype(np.int64)  # a gap at 30..39
    feats = rng.standard_normal((len(index), 3, 5)).astype(np.float32)
    meta = {"format": "prospect-frame-features", "encoder": "numpy-random"}
    save_numpy({"features": feats, "frame_index": index}, str(root / "feats/f32.safetensors"), metadata=meta)
    save_numpy({"features": feats.astype(np.float16), "frame_index": index}, str(root / "feats/f16.safetensors"))
    save_torch({"features": torch.from_numpy(feats).to(torch.bfloat16), "frame_index": torch.from_numpy(index)},
               str(root / "feats/bf16.safetensors"))
    save_numpy({"features": feats.astype(np.int32), "frame_index": index}, str(root / "feats/i32.safetensors"))
    save_numpy({"features": feats[:3], "frame_index": np.array([0, 2, 1], dtype=np.int64)},
               str(root / "feats/down.safetensors"))
    good = []
    for name in ("f32", "f16", "bf16"):
        good += [dst_clip(f"{name}_a", f"feats/{name}.safetensors", 10, 30),
                 dst_clip(f"{name}_b", f"feats/{name}.safetensors", 42, 50)]
    (root / "good.json").write_text(json.dumps(good))
    out = peerlib.run_prospect(prospect, ["validate", "--data", root / "good.json", "--data-root", root])
    report.require("validate accepts 6 covered clips of F32/F16/BF16 files",
                   "OK: 6 usable clips" in out and "features: 6 clips checked against 3 of 3" in out)

    bad = [dst_clip("gap", "feats/bf16.safetensors", 25, 45), dst_clip("i32", "feats/i32.safetensors", 10, 12),
           dst_clip("down", "feats/down.safetensors", 0, 1)]
    (root / "bad.json").write_text(json.dumps(bad))
    cmd = [str(prospect), "validate", "--data", str(root / "bad.json"), "--data-root", str(root)]
    print("$ " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout + r.stderr
    print("  " + out.strip().replace("\n", "\n  "))
    report.require("validate fails on the bad clips (exit 1)", r.returncode == 1)
    report.require("gap: 10 of 20 frames missing, the first 30",
                   "bf16.safetensors lacks 10 of the clip's 20 frames [25, 45), the first is frame 30" in out)
    report.require("I32 features refused", "tensor 'features': has dtype I32; expected F32, F16 or BF16" in out)
    report.require("decreasing frame_index refused", "row 2 names frame 1 after frame 2" in out)


# ---- (b) Prospect writes, Python reads ---------------------------------------------------------------------

def read_arrow_frames(path):
    data = Path(path).read_bytes()
    table = (pa.ipc.open_file(data) if data[:6] == b"ARROW1" else pa.ipc.open_stream(data)).read_all()
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(s))).convert("RGB"))
            for s in table.column("frame").to_pylist()]


def read_features(path):
    with safe_open(str(path), framework="pt") as f:
        names = sorted(f.keys())
        meta = f.metadata() or {}
        feats = f.get_tensor("features")
        index = f.get_tensor("frame_index")
    return names, meta, feats, index


def part_b(prospect, work, report):
    print("(b) prospect synth --features writes, Python's safetensors reads; the recipe recomputed in numpy")
    for tokens, dtypes in ((1, ("F32",)), (K, ("F32", "BF16"))):
        dirs = {}
        for dtype in dtypes:
            dirs[dtype] = work / f"synth_{tokens}_{dtype}"
            peerlib.run_prospect(prospect, ["synth", "--out", dirs[dtype], "--no-model", "--train-videos", 3,
                                            "--val-videos", 1, "--test-videos", 1, "--seed", 11, "--features",
                                            "--feature-tokens", tokens, "--feature-dim", D, "--feature-dtype",
                                            dtype])
        compare_synth(dirs, tokens, report)


def compare_synth(dirs, tokens, report):
    g = int(round(math.sqrt(tokens)))
    enc, other = Encoder(tokens, D), Encoder(tokens, D, seed=ENCODER_SEED + 1)
    clips = []
    for split in ("train", "val", "test"):
        clips += json.loads((dirs["F32"] / f"{split}.json").read_text())
    videos = sorted({c["frames_file"]: c["features_file"] for c in clips}.items())
    named = all(c["features_file"] == c["frames_file"][:-len(".arrow")] + ".features.safetensors" for c in clips)
    report.require(f"K={tokens}: every clip ({len(clips)}) names its video's features file", named)
    rows = values = 0
    err_max = err_sum = other_sum = bf16_max = 0.0
    layout_ok = meta_ok = True
    for frames_file, features_file in videos:
        names, meta, feats, index = read_features(dirs["F32"] / features_file)
        frames = read_arrow_frames(dirs["F32"] / frames_file)
        F = len(frames)
        layout_ok &= (names == ["features", "frame_index"] and feats.dtype == torch.float32 and
                      tuple(feats.shape) == (F, tokens, D) and index.dtype == torch.int64 and
                      index.tolist() == list(range(F)))
        meta_ok &= (meta.get("format") == "prospect-frame-features" and
                    meta.get("encoder") == "prospect-synth-random-v1" and
                    meta.get("encoder_seed") == "0x70726f7370656374" and meta.get("grid") == f"{g}x{g}")
        got = feats.numpy()
        for f in range(F):
            err = np.abs(got[f] - enc.encode(frames[f]))
            err_max = max(err_max, float(err.max()))
            err_sum += float(err.sum())
            other_sum += float(np.abs(got[f] - other.encode(frames[f])).sum())
        if "BF16" in dirs:
            _, _, bf, _ = read_features(dirs["BF16"] / features_file)
            bf16_max = max(bf16_max, float(np.abs(bf.to(torch.float32).numpy() - bf16_round(got)).max()))
        rows += F
        values += got.size
    report.require(f"K={tokens}: {len(videos)} files: features [F, {tokens}, {D}] F32, frame_index 0..F-1, "
                   f"F = pyarrow's rows", layout_ok, f"({rows} rows)")
    report.require(f"K={tokens}: metadata: format, encoder, encoder_seed, grid {g}x{g}", meta_ok)
    err_mean, other_mean = err_sum / values, other_sum / values
    print(f"  K={tokens}: {values} values: |prospect - recipe on JPEG-decoded frames| mean {err_mean:.4f} "
          f"max {err_max:.4f}; against an encoder with another seed: mean {other_mean:.4f}")
    # The JPEG error (quality 92, 4 x 4 pixels per cell at K = 1, 2 x 2 at K = 4) measured 0.017 / 0.026 mean,
    # 0.20 / 0.29 max; a wrong seed, cell order, scale or nonlinearity is off by about the features' size (0.75).
    report.check(f"K={tokens}: recipe on decoded frames, mean |error|", err_mean, 0.04 if tokens == 1 else 0.06)
    report.check(f"K={tokens}: recipe on decoded frames, max |error|", err_max, 0.6)
    report.require(f"K={tokens}: another seed is far off (mean error > 15x)", other_mean > 15 * err_mean,
                   f"{other_mean:.4f} vs {err_mean:.4f}")
    if "BF16" in dirs:
        report.check(f"K={tokens}: BF16 files = F32 files rounded to bfloat16", bf16_max, 0.0)


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
