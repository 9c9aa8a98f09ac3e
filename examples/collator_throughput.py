#!/usr/bin/env python3
"""Throughput of prospect.Collator against a plain-Python pipeline: rendered text + a labels builder in Python
+ transformers' SmolVLMProcessor (tokenizer and image processor) + frames read with pyarrow and PIL.

    prospect synth --out data
    python examples/collator_throughput.py --data data --model data/model [--batches 20 --batch-size 4]

Both sides build the same batches from DATA/train.json: input_ids, attention_mask, labels and pixel_values.
The baseline is what a transformers user writes without Prospect: SmolVLMProcessor's tokenizer
(PreTrainedTokenizerFast, with offsets) and image processor (SmolVLMImageProcessorPil; the processor object
itself needs torchvision for its video half, which the venv lacks), labels from the message prefixes
(tests/peers/python_labels.py), frames decoded from the Arrow file (base64 JPEG) with PIL. Its rendered text
comes from Prospect (`Collator.render_text`, not timed): the baseline does no layout, splitting or negative
subsampling, so it is favoured. Prints both rates, and whether ids and labels agree, as one JSON line.
"""
import argparse
import base64
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from PIL import Image

import prospect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "peers"))
import python_labels  # noqa: E402

def read_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except pa.ArrowInvalid:
        table = pa.ipc.open_stream(pa.BufferReader(data)).read_all()
    return table.column("frame").to_pylist()


def make_processor(model_dir, pad_id, size):
    """SmolVLMProcessor's two parts: its tokenizer and its image processor (the processor object itself also
    needs a video processor, which needs torchvision; its text expansion of `<image>` into the frame block is
    done by Prospect's rendered text here)."""
    from transformers import PreTrainedTokenizerFast, SmolVLMImageProcessorPil

    tok = PreTrainedTokenizerFast(tokenizer_file=str(Path(model_dir) / "tokenizer.json"))
    tok.pad_token = tok.convert_ids_to_tokens(pad_id)
    tok.padding_side = "right"
    improc = SmolVLMImageProcessorPil(do_resize=True, size={"longest_edge": size}, do_image_splitting=False,
                                      max_image_size={"longest_edge": size}, do_rescale=True, do_normalize=True,
                                      image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return tok, improc


class PlainPython:
    """The baseline collate_fn: items are (rendered text, frames file, frame indices)."""

    def __init__(self, tokenizer, image_processor, data_root):
        self.tok, self.improc, self.root = tokenizer, image_processor, Path(data_root)
        self.frames = {}

    def pictures(self, frames_file, indices):
        rows = self.frames.get(frames_file)
        if rows is None:
            rows = self.frames[frames_file] = read_frames(self.root / frames_file)
        return [Image.open(io.BytesIO(base64.b64decode(rows[i]))).convert("RGB") for i in indices]

    def __call__(self, items):
        texts = [t for t, _, _ in items]
        enc = self.tok(texts, padding=True, return_offsets_mapping=True, add_special_tokens=False,
                       return_tensors="pt")
        labels = torch.tensor([python_labels.labels_from_offsets(ids.tolist(), offs.tolist(), text)
                               for ids, offs, text in zip(enc["input_ids"], enc["offset_mapping"], texts)])
        images = [self.pictures(f, idx) for _, f, idx in items]
        px = self.improc(images, return_tensors="pt")["pixel_values"]
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels,
                "pixel_values": px}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-seq-len", type=int, default=0, help="0: never split (the baseline cannot)")
    a = p.parse_args()

    torch.set_num_threads(1)
    data = Path(a.data)
    collate = prospect.Collator(a.model, max_seq_len=a.max_seq_len, neg_frame_sampling_rate=1.0)
    clips = prospect.read_clips(data / "train.json")
    n = a.batches * a.batch_size
    order = [clips[i % len(clips)] for i in range(n)]
    batches = [order[i:i + a.batch_size] for i in range(0, n, a.batch_size)]

    # Prospect.
    collate(batches[0])  # open the frame files once, as a long run would have
    t0 = time.perf_counter()
    ours = [collate(b) for b in batches]
    t_ours = time.perf_counter() - t0

    # Plain Python (rendered text given).
    size = collate._core.image_size
    tok, improc = make_processor(a.model, collate.pad_id, size)
    base = PlainPython(tok, improc, data)
    items = [[(collate.render_text(c), c.frames_file, collate.render(c)[0]["frames"]) for c in b] for b in batches]
    base(items[0])
    t0 = time.perf_counter()
    theirs = [base(b) for b in items]
    t_base = time.perf_counter() - t0

    same_ids = all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(ours, theirs))
    same_labels = all(torch.equal(x["labels"], y["labels"]) for x, y in zip(ours, theirs))
    px = max(float((x["pixel_values"] - y["pixel_values"]).abs().max()) for x, y in zip(ours, theirs)
             if x["pixel_values"].shape == y["pixel_values"].shape) if same_ids else float("nan")
    tokens = sum(int(b["attention_mask"].sum()) for b in ours)
    frames = sum(len(collate.render(c)[0]["frames"]) for c in order)
    out = {"batches": a.batches, "batch_size": a.batch_size, "tokens": tokens, "frames": frames,
           "prospect_s": round(t_ours, 3), "plain_python_s": round(t_base, 3),
           "prospect_samples_per_s": round(n / t_ours, 1), "plain_python_samples_per_s": round(n / t_base, 1),
           "speedup": round(t_base / t_ours, 2), "same_input_ids": same_ids, "same_labels": same_labels,
           "pixel_max_abs_diff": px}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
