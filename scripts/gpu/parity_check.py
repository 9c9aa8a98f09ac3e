#!/usr/bin/env python3
"""Fixture parity of `prospect forward` on a device, without the C++ test build: runs the tiny fixture model
(build/testdata/fixtures/hf-smolvlm-tiny, made by tests/peers/make_test_inputs.py) through
`prospect forward --grads --device DEV` and compares logits, hidden states, image features and loss with
transformers' outputs stored in the fixture (tolerances of
tests/model/parity_test.cpp: outputs 1e-4 absolute, loss 1e-5 relative, gradients 1e-4 relative to their
largest entry). Prints one JSON line; exit 1 when a comparison fails.

usage: parity_check.py --prospect build-gpu/prospect --fixture DIR [--device cuda] [--attention eager|sdpa]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prospect", required=True)
    ap.add_argument("--fixture", required=True, help="the hf-smolvlm-tiny folder")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--attention", default="eager")
    a = ap.parse_args()
    io = load_file(os.path.join(a.fixture, "tiny_io.safetensors"))
    grads = load_file(os.path.join(a.fixture, "tiny_grads.safetensors"))
    out_path = os.path.join(tempfile.mkdtemp(), "out.safetensors")
    cmd = [a.prospect, "forward", "--model", os.path.join(a.fixture, "tiny"), "--inputs",
           os.path.join(a.fixture, "tiny_io.safetensors"), "--out", out_path, "--grads", "--device", a.device,
           "--attention", a.attention]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    got = load_file(out_path)
    res = {"figure": "parity", "device": a.device, "attention": a.attention, "ok": True}
    for name in ("logits", "last_hidden_state", "image_hidden_states"):
        d = (got[name].float() - io[name].float()).abs().max().item()
        res[name + "_maxdiff"] = d
        res["ok"] &= d <= 1e-4
    want = io["loss"].float().reshape(-1)[0].item()
    rel = abs(got["loss"].reshape(-1)[0].item() - want) / abs(want)
    res["loss_rel"] = rel
    res["ok"] &= rel <= 1e-5
    worst, compared = 0.0, 0
    for name, g in grads.items():
        if name not in got:
            res["ok"] = False
            res.setdefault("missing_grads", []).append(name)
            continue
        scale = g.abs().max().item()
        d = (got[name].float() - g.float()).abs().max().item()
        compared += 1
        if scale < 1e-8:  # analytically zero: ours must be noise too
            ok = d < 1e-8
        else:
            ok = d / scale <= 1e-4
            worst = max(worst, d / scale)
        res["ok"] &= ok
    res["grads_compared"] = compared
    res["grads_worst_rel"] = worst
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
