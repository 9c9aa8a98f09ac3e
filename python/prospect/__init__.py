"""Prospect for Python: the collator, streaming engine and metrics of the ``prospect`` program, over the same
C++ code (``prospect._prospect``), sharing tensors with PyTorch without copies.

    import prospect
    clips = prospect.read_clips("data/train.json")                  # list[prospect.Clip]
    report = prospect.validate("data/train.json", strict=True)     # {"ok", "errors", "findings", ...}
    tok = prospect.Tokenizer("model/tokenizer.json"); tok.decode(tok.encode("User: hi"))
    collate = prospect.Collator("model", max_seq_len=1024, neg_frame_sampling_rate=0.5)
    ds = prospect.Dataset("data/train.json", frames_root="data", collator=collate)
    batch = collate([ds[0], ds[1]])     # input_ids, attention_mask, pixel_values, labels, decisions ...
    stream = prospect.Stream("run/checkpoints/checkpoint-900")
    result = stream.run(clips[0], on_event=print)                   # events, final_state, decisions, stats
    live = stream.live(clips[0])                                    # a camera: one picture at a time
    for f in live.frames: events = live.push(picture_of(f))         # the events that frame caused
    metrics = prospect.evaluate("data/test.json", result["events"])  # what `prospect eval` prints

Errors in the input raise ``prospect.ProspectError`` with Prospect's message (file, clip, turn, field).
docs/PYTHON.md is the reference.
"""
import torch  # noqa: F401  (libtorch must be loaded before the extension module)

from ._prospect import ProspectError, Clip, SubClip, Tokenizer, read_clips, read_clips_from_string
from .data import Collator, Dataset, validate
from .stream import LiveStream, Stream, evaluate, oracle_timeline

__version__ = "0.1.0"
__all__ = [
    "ProspectError", "Clip", "SubClip", "Tokenizer", "read_clips", "read_clips_from_string", "validate",
    "Collator", "Dataset", "Stream", "LiveStream", "evaluate", "oracle_timeline",
]
