#!/usr/bin/env python3
"""Interoperability: a checkpoint written by `prospect train` loads in transformers
(SmolVLMForConditionalGeneration.from_pretrained, no missing or unexpected weights) and gives the same logits as
`prospect forward` on the same inputs (fp32, eager attention, max |diff| <= 1e-4 by default). Inputs: random
text ids around two images' <image> blocks, random pixels in [-1, 1]. transformers runs on the CPU in fp32
(the reference); `prospect forward` runs on each --device given. Prints one JSON line per device; exit 1 when
any comparison fails.

usage: interop_check.py --checkpoint RUN/checkpoints/checkpoint-N --prospect build-gpu/prospect
                        [--device cpu --device cuda] [--tol 1e-4]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import SmolVLMForConditionalGeneration


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--prospect", required=True)
    ap.add_argument("--device", action="append")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    devices = a.device or ["cpu"]
    cfg = json.load(open(os.path.join(a.checkpoint, "config.json")))
    model, info = SmolVLMForConditionalGeneration.from_pretrained(
        a.checkpoint, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    bad_keys = {k: list(v) for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}

    vc, tc = cfg["vision_config"], cfg["text_config"]
    size, patch, scale = vc["image_size"], vc["patch_size"], cfg["scale_factor"]
    k = (size // patch) ** 2 // scale ** 2
    img = cfg["image_token_id"]
    vocab = tc["vocab_size"]
    g = torch.Generator().manual_seed(0)

    def text(n):
        ids = torch.randint(4, vocab, (n,), generator=g)
        ids[ids == img] = 5
        return ids.tolist()

    ids = text(7) + [img] * k + text(5) + [img] * k + text(6)
    input_ids = torch.tensor([ids], dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    pixel_values = torch.rand(1, 2, 3, size, size, generator=g) * 2 - 1
    with torch.no_grad():
        ref = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values).logits.float()

    tmp = tempfile.mkdtemp()
    inputs = os.path.join(tmp, "inputs.safetensors")
    save_file({"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": pixel_values.contiguous()},
              inputs)
    ok_all = not bad_keys
    for dev in devices:
        out = os.path.join(tmp, f"out_{dev}.safetensors")
        cmd = [a.prospect, "forward", "--model", a.checkpoint, "--inputs", inputs, "--out", out, "--device", dev]
        print("$", " ".join(cmd), flush=True)
        r = subprocess.run(cmd)
        res = {"figure": "interop", "device": dev, "checkpoint": a.checkpoint, "tokens": len(ids), "images": 2,
               "tokens_per_image": k, "loading_problems": bad_keys}
        if r.returncode != 0:
            res.update(ok=False, error=f"prospect forward exited {r.returncode}")
        else:
            got = load_file(out)["logits"].float()
            if got.shape != ref.shape:
                res.update(ok=False, error=f"logits shape {list(got.shape)} vs transformers {list(ref.shape)}")
            else:
                d = (got - ref).abs().max().item()
                res.update(max_abs_err=d, max_abs_logit=ref.abs().max().item(), tol=a.tol,
                           ok=(d <= a.tol) and not bad_keys)
        ok_all &= res["ok"]
        print(json.dumps(res), flush=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
