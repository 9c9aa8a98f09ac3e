#!/usr/bin/env python3
"""Makes every test input of Prospect that is not committed, live, with the pinned peers of the project's venv
(torch, transformers, tokenizers, safetensors, pyarrow, PIL), and copies the committed real inputs beside them.

    make_test_inputs.py --inputs tests/inputs --out build/testdata [--force]

Writes into --out (the layout the C++ tests read, tests/test_util.h):

  fixtures/hf-smolvlm-tiny/
    tiny/{config.json,model.safetensors,tokenizer.json,generation_config.json}
                              a tiny random SmolVLM (transformers' SmolVLMForConditionalGeneration, fixed seed) and
                              a small byte-level BPE tokenizer trained by `tokenizers` (shaped like SmolLM2's)
    tiny_io.safetensors       one batch of 2 right-padded sequences: inputs and transformers' outputs (fp32, CPU,
                              eager attention): logits, last hidden state, image hidden states, loss
    tiny_grads.safetensors    the gradient of that loss for every parameter, by HF name
    tiny_meta.json            loss, prompts, parameter names, config, versions, transformers' image prompt strings
    tokenizer_cases.json      strings -> ids, offsets, decoded, as `tokenizers` encodes them with that tokenizer
    image_proc.safetensors    transformers' SmolVLM image processor on a 50x77 image, unsplit and split
  fixtures/smolvlm2-tokenizer/
    tokenizer.json            copied from --inputs (the real SmolVLM2 tokenizer; see tests/inputs/README.md)
    cases.json                strings -> ids, offsets, decoded, as `tokenizers` encodes them with it
  fixtures/frames/
    video_stream.arrow, video_file.arrow
                              24 synthetic 384x384 frames, base64 JPEG (PIL), one row per frame, in ProAssist's
                              layout (pyarrow IPC stream in batches of 10, and IPC file)
    frames_decoded.safetensors  frames 0, 7, 23 as PIL decodes the JPEGs; frame 7 rescaled and normalised
    frames_meta.json
  data/prospect-sample/*      copied from --inputs
  MANIFEST.json               every file, its size and where it came from
  .stamp                      hash of this script, the inputs and the peers' versions

Deterministic (fixed seeds, one compute thread, fp32, CPU). When --out already holds a complete set made by the
same script from the same inputs with the same versions, it does nothing. It writes into a temporary folder beside
--out and renames it into place, so a killed run leaves either the old complete folder or none.
"""
import argparse
import base64
import fcntl
import hashlib
import io
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

# Quiet and offline: nothing here downloads anything.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SCRIPT = "tests/peers/make_test_inputs.py"
SEED = 0

# The committed real inputs (relative to --inputs) and where each goes in --out.
COPIED = {
    "smolvlm2-tokenizer/tokenizer.json": "fixtures/smolvlm2-tokenizer/tokenizer.json",
    "prospect-sample/dst_clip_assembly101.json": "data/prospect-sample/dst_clip_assembly101.json",
    "prospect-sample/proassist_prepared_assembly101.jsonl": "data/prospect-sample/proassist_prepared_assembly101.jsonl",
}

GENERATED = [
    "fixtures/hf-smolvlm-tiny/tiny/config.json",
    "fixtures/hf-smolvlm-tiny/tiny/model.safetensors",
    "fixtures/hf-smolvlm-tiny/tiny/tokenizer.json",
    "fixtures/hf-smolvlm-tiny/tiny/generation_config.json",
    "fixtures/hf-smolvlm-tiny/tiny_io.safetensors",
    "fixtures/hf-smolvlm-tiny/tiny_grads.safetensors",
    "fixtures/hf-smolvlm-tiny/tiny_meta.json",
    "fixtures/hf-smolvlm-tiny/tokenizer_cases.json",
    "fixtures/hf-smolvlm-tiny/image_proc.safetensors",
    "fixtures/smolvlm2-tokenizer/cases.json",
    "fixtures/frames/video_stream.arrow",
    "fixtures/frames/video_file.arrow",
    "fixtures/frames/frames_decoded.safetensors",
    "fixtures/frames/frames_meta.json",
]

# The peers whose versions the stamp holds (distribution name -> the key in MANIFEST.json).
PEERS = {"torch": "torch", "transformers": "transformers", "tokenizers": "tokenizers", "safetensors": "safetensors",
         "pyarrow": "pyarrow", "pillow": "PIL", "numpy": "numpy"}


def peer_versions():
    # From the installed distributions' metadata: quick (an up-to-date check imports nothing heavy).
    from importlib.metadata import version

    v = {"python": platform.python_version()}
    for dist, key in PEERS.items():
        v[key] = version(dist)
    return v


def stamp_of(inputs: Path, versions: dict) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    for rel in sorted(COPIED):
        h.update(rel.encode() + b"\0")
        h.update(hashlib.sha256((inputs / rel).read_bytes()).digest())
    h.update(json.dumps(versions, sort_keys=True).encode())
    return h.hexdigest()


def write_json(path: Path, obj, indent=1):
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------ tiny SmolVLM
# The small tokenizer: specials first, Digits(individual) + ByteLevel pre-tokenizer as SmolLM2's, a ByteLevel
# post-processor (it changes no ids; loaders must accept it), SmolVLM's added tokens last.
TINY_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TINY_ADDED = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"] + [
    f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)
]
TINY_WORDS = (
    "assemble the toy vehicle attach wheel chassis screw cabin arm bucket turn "
    "tighten remove place the blue red yellow part step now next great job let's get "
    "started you are a helpful and proactive assistant task steps completed in_progress "
    "not_started DST_UPDATE S1 S2 S3 S10 start complete User Assistant System frame "
    "héllo naïve café 東京 😀 — \t tabs  double  spaces\n\nnewlines 12345 3.14 x=y+1"
).split(" ")
TINY_CASES = [
    "", "hello world", "Hello  World!!", "  leading spaces", "trailing spaces   ",
    "line1\nline2\n\n\nline3", "tabs\tand\ttabs", "numbers 1234567890 and 3.14159",
    "S1->start, S12->complete", "S1:completed, S2:in_progress",
    "I'm you're they'll we've it's DON'T", "naïve café 東京 😀 emoji",
    "DST_UPDATE: S1->start\nUser: I want to assemble a toy vehicle",
    "<|im_start|>System: steps<end_of_utterance>\nAssistant: ok<end_of_utterance>\n",
    "<fake_token_around_image><global-img>" + "<image>" * 4 + "<fake_token_around_image>",
    "<row_1_col_1><image><row_1_col_2>\n", "a" * 50, "\u00a0nbsp\u2003emspace", "x  \n  y",
]


def encode_cases(tok, texts):
    out = []
    for s in texts:
        e = tok.encode(s, add_special_tokens=False)
        out.append({"text": s, "ids": e.ids, "offsets": [list(o) for o in e.offsets],
                    "decoded": tok.decode(e.ids, skip_special_tokens=False)})
    return out


def make_tiny(out: Path, meta: dict):
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    corpus = [" ".join(rng.choice(TINY_WORDS, int(rng.integers(3, 14)))) for _ in range(4000)]
    corpus += ["S1->start, S2->complete", "S1:completed, S2:in_progress, S3:not_started"] * 50
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=TINY_SPECIALS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.add_special_tokens(TINY_ADDED)
    write_json(out / "tokenizer_cases.json", encode_cases(tok, TINY_CASES))
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    image_token_id = tok.token_to_id("<image>")
    meta["tokenizer"] = {"vocab_size": vocab_size, "image_token_id": image_token_id,
                         "end_of_utterance_id": tok.token_to_id("<end_of_utterance>")}

    IMG, PATCH, SCALE = 32, 4, 2
    cfg = SmolVLMConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=IMG, patch_size=PATCH, num_channels=3, layer_norm_eps=1e-6,
                           hidden_act="gelu_pytorch_tanh"),
        text_config=dict(model_type="llama", vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                         rope_theta=100000.0, max_position_embeddings=4096, tie_word_embeddings=False,
                         hidden_act="silu", pad_token_id=0),
        scale_factor=SCALE, image_token_id=image_token_id, tie_word_embeddings=False, pad_token_id=0,
    )
    model = SmolVLMForConditionalGeneration._from_config(cfg, attn_implementation="eager").float().eval()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name or "layer_norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
    model.save_pretrained(str(out / "tiny"), safe_serialization=True)
    tok.save(str(out / "tiny" / "tokenizer.json"))

    image_seq_len = (IMG // PATCH) ** 2 // (SCALE ** 2)  # 16
    frame = "<fake_token_around_image><global-img>" + "<image>" * image_seq_len + "<fake_token_around_image>"
    # Arbitrary test strings for the model, not Prospect's rendering (docs: spec/sequence.md).
    prompts = [
        "<|im_start|>System: You are a proactive assistant. Task Steps: S1: attach wheel, S2: attach cabin"
        "<end_of_utterance>\nUser:" + frame + frame + "<end_of_utterance>\nAssistant: DST_UPDATE: S1->start"
        "<end_of_utterance>\nUser:" + frame + "<end_of_utterance>\nAssistant: Great, now attach the wheel."
        "<end_of_utterance>\n",
        "<|im_start|>System: Task Steps: S1: screw arm<end_of_utterance>\nUser:" + frame + frame +
        "<end_of_utterance>\nAssistant: Tighten the screw.<end_of_utterance>\n",
    ]
    n_images = [3, 2]
    encs = [tok.encode(p, add_special_tokens=False) for p in prompts]
    T = max(len(e.ids) for e in encs)
    B = len(prompts)
    input_ids = torch.zeros(B, T, dtype=torch.long)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b, e in enumerate(encs):
        ids = torch.tensor(e.ids)
        input_ids[b, :len(ids)] = ids
        attention_mask[b, :len(ids)] = 1
        # learn the assistant turns: the text after "Assistant:" through <end_of_utterance>
        p, start = prompts[b], 0
        while (i := p.find("Assistant:", start)) >= 0:
            j = p.find("<end_of_utterance>", i) + len("<end_of_utterance>")
            for t, (s0, s1) in enumerate(e.offsets):
                if s0 >= i + len("Assistant:") and s1 <= j:
                    labels[b, t] = e.ids[t]
            start = j
    pixel_values = torch.zeros(B, max(n_images), 3, IMG, IMG)  # the 2nd sample's 3rd image: zeros = padding
    for b, n in enumerate(n_images):
        pixel_values[b, :n] = torch.randn(n, 3, IMG, IMG, generator=g).clamp(-1, 1)

    outputs = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, labels=labels,
                    output_hidden_states=True, return_dict=True)
    loss = outputs.loss
    loss.backward()
    # The connector's output, one row of image_seq_len tokens per real image: transformers >= 5.2x returns it per
    # sample as image_outputs.pooler_output (the older image_hidden_states is deprecated).
    image_outputs = getattr(outputs, "image_outputs", None)
    if image_outputs is not None and getattr(image_outputs, "pooler_output", None) is not None:
        pooled = image_outputs.pooler_output
        pooled = torch.cat(list(pooled), 0) if isinstance(pooled, (list, tuple)) else pooled
    else:
        pooled = outputs.image_hidden_states
    image_hidden_states = pooled.detach().reshape(-1, image_seq_len, pooled.shape[-1]).contiguous()
    save_file({
        "input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "pixel_values": pixel_values,
        "logits": outputs.logits.detach().contiguous(),
        "last_hidden_state": outputs.hidden_states[-1].detach().contiguous(),
        "image_hidden_states": image_hidden_states,
        "loss": loss.detach().reshape(1),
    }, str(out / "tiny_io.safetensors"))
    save_file({n: p.grad.detach().contiguous() for n, p in model.named_parameters() if p.grad is not None},
              str(out / "tiny_grads.safetensors"))
    meta["tiny"] = {"loss": float(loss.detach()), "prompts": prompts, "n_images": n_images, "image_seq_len": image_seq_len,
                    "T": T, "param_names": [n for n, _ in model.named_parameters()],
                    "config": json.loads(cfg.to_json_string())}

    from transformers.models.smolvlm.processing_smolvlm import get_image_prompt_string
    kw = dict(fake_token_around_image="<fake_token_around_image>", image_token="<image>",
              global_image_token="<global-img>")
    meta["image_prompt_split_2x2_len3"] = get_image_prompt_string(2, 2, 3, **kw)
    meta["image_prompt_single_len3"] = get_image_prompt_string(0, 0, 3, **kw)

    # transformers' SmolVLM image processor. Without torchvision transformers 5 falls back to the PIL backend,
    # whose default resample is LANCZOS; the default (torchvision) backend resizes with antialiased bicubic,
    # which is what Prospect ports, so the PIL backend is asked for bicubic.
    from transformers.image_utils import PILImageResampling
    try:
        from transformers import SmolVLMImageProcessorPil as ImageProcessor
    except ImportError:  # torchvision present: the default backend
        from transformers import SmolVLMImageProcessor as ImageProcessor
    img = (np.random.default_rng(3).random((50, 77, 3)) * 255).astype(np.uint8)
    res = {"image_uint8": torch.from_numpy(img).contiguous()}
    for split in (False, True):
        ip = ImageProcessor(do_resize=True, size={"longest_edge": 64}, max_image_size={"longest_edge": 32},
                            do_image_splitting=split, resample=PILImageResampling.BICUBIC)
        o = ip(images=[[img]], return_tensors="pt", return_row_col_info=True)
        res[f"pixel_values_split{int(split)}"] = o["pixel_values"].float().contiguous()
        meta[f"image_proc_split{int(split)}"] = {"rows": o.get("rows"), "cols": o.get("cols"),
                                                 "shape": list(o["pixel_values"].shape),
                                                 "processor": type(ip).__name__, "resample": "bicubic"}
    save_file(res, str(out / "image_proc.safetensors"))
    write_json(out / "tiny_meta.json", meta)
    print(f"tiny SmolVLM: vocab {vocab_size}, <image> {image_token_id}, T {T}, loss {float(loss.detach()):.9f}")


# ------------------------------------------------------------------------------------------------ SmolVLM2 cases
SMOL_STEPS = ["Assemble the chassis by attaching and screwing the chassis parts together.",
              "Attach wheels to the chassis.", "Add the cabin window to the chassis."]
SMOL_TEXTS = [
    "<|im_start|>System: You are a helpful and proactive assistant.\n\nTask Steps:\nS1: " + SMOL_STEPS[0] +
    "\nS2: " + SMOL_STEPS[1] + "\n\nCurrent Progress: S1:completed, S2:in_progress<end_of_utterance>\n",
    "Assistant: DST_UPDATE: S1->complete, S2->start<end_of_utterance>\n",
    "User: I want to assemble a toy roller with chassis, wheels, and cabin.<end_of_utterance>\n",
    "<fake_token_around_image><global-img>" + "<image>" * 81 + "<fake_token_around_image>",
    "Frame from 00:07:<fake_token_around_image><row_1_col_1><image><row_6_col_6>",
    "Great job on the first wheel! Now, screw the second, third, and fourth wheels with the screwdriver, one by one.",
    "S10->pause, S11->resume, S12->cancel, S3->reset", "It's 12:05 — 3.5 cm, 1e-5, x²+y² ≠ z²",
    "naïve café 東京 😀 Ünïcödé", "tabs\tand\nnewlines\r\n  indented", "   ", "", "\u00a0\u2003\u3000",
    "don't won't I'll you've they're we'd it's", "<image><image>text<image>", "<end_of_utterance><|im_end|>",
    "<|reserved_special_token_3|> <row_2_col_5>", "URL https://example.org/a?b=c&d=e#f", "a" * 300,
    "1234567890 ٣٤٥ ⅔ ①", "emoji 👩‍🔧 ZWJ sequence", "ÀÉÎÕÜ àéîõü ßøåæ", "Привет мир", "مرحبا بالعالم",
]


def make_smolvlm2_cases(out: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    write_json(out / "cases.json", {"tokenizer": "tokenizer.json", "add_special_tokens": False,
                                    "cases": encode_cases(tok, SMOL_TEXTS)})
    print(f"SmolVLM2 tokenizer: {len(SMOL_TEXTS)} cases, vocab {tok.get_vocab_size(with_added_tokens=True)}")


# ------------------------------------------------------------------------------------------------ frames
def make_frames(out: Path):
    import numpy as np
    import pyarrow as pa
    import torch
    from PIL import Image, ImageDraw
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    N = 24
    frames_b64, decoded = [], {}
    for i in range(N):
        img = Image.new("RGB", (384, 384), (40 + 5 * i, 60, 90))
        d = ImageDraw.Draw(img)
        d.rectangle([20 + 10 * i, 100, 120 + 10 * i, 200], fill=(220, 30 + 8 * i, 40))
        d.ellipse([200, 200 + 4 * i, 300, 300 + 4 * i], fill=(30, 200, 60))
        d.text((10, 10), f"frame {i}", fill=(255, 255, 255))
        buf = io.BytesIO()
        img.save(buf, format="JPEG")  # PIL's defaults: quality 75, 4:2:0
        jpg = buf.getvalue()
        frames_b64.append(base64.b64encode(jpg).decode("ascii"))
        if i in (0, 7, 23):  # the reference decode is PIL's of the stored JPEG bytes
            decoded[f"frame{i}_rgb"] = torch.from_numpy(
                np.asarray(Image.open(io.BytesIO(jpg)).convert("RGB")).copy()).contiguous()

    # As HF datasets' ArrowWriter writes ProAssist's frame files: features in the schema metadata "huggingface".
    features = {"frame": {"dtype": "string", "_type": "Value"}}
    schema = pa.schema([pa.field("frame", pa.string())],
                       metadata={b"huggingface": json.dumps({"info": {"features": features}}).encode()})
    with pa.OSFile(str(out / "video_stream.arrow"), "wb") as f, pa.ipc.new_stream(f, schema) as w:
        for s in range(0, N, 10):
            w.write_batch(pa.record_batch([pa.array(frames_b64[s:s + 10], pa.string())], schema=schema))
    with pa.OSFile(str(out / "video_file.arrow"), "wb") as f, pa.ipc.new_file(f, schema) as w:
        w.write_batch(pa.record_batch([pa.array(frames_b64, pa.string())], schema=schema))

    # SmolVLM normalisation of a frame already at 384: rescale 1/255 then (x - 0.5) / 0.5, CHW float32
    x = decoded["frame7_rgb"].permute(2, 0, 1).float() / 255.0
    decoded["frame7_pixel_values"] = ((x - 0.5) / 0.5).contiguous()
    save_file(decoded, str(out / "frames_decoded.safetensors"))
    import PIL.features
    write_json(out / "frames_meta.json", {
        "n_frames": N, "column": "frame", "encoding": "base64 JPEG (PIL default quality 75)",
        "stream_batches": [10, 10, 4], "pyarrow": pa.__version__,
        "b64_len_frame0": len(frames_b64[0]), "b64_len": [len(s) for s in frames_b64],
        "pil": Image.__version__, "pil_libjpeg_turbo": PIL.features.version("libjpeg_turbo")})
    print(f"frames: {N} JPEGs, frame 0 base64 {len(frames_b64[0])} chars")


# ------------------------------------------------------------------------------------------------ main
def complete(out: Path, stamp: str) -> bool:
    s = out / ".stamp"
    return (s.is_file() and s.read_text().strip() == stamp and
            all((out / rel).is_file() for rel in GENERATED + list(COPIED.values()) + ["MANIFEST.json"]))


def generate(tmp: Path, inputs: Path, versions: dict, stamp: str):
    import numpy as np
    import torch

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)
    sources = {}
    for src, dst in COPIED.items():
        (tmp / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(inputs / src, tmp / dst)
        sources[dst] = f"copied from tests/inputs/{src}"
    meta = {"versions": {k: versions[k] for k in ("torch", "transformers", "tokenizers")},
            "made_by": SCRIPT}
    make_tiny(tmp / "fixtures/hf-smolvlm-tiny", meta)
    make_smolvlm2_cases(tmp / "fixtures/smolvlm2-tokenizer")
    make_frames(tmp / "fixtures/frames")
    for rel in GENERATED:
        sources.setdefault(rel, f"made by {SCRIPT}")
    missing = [rel for rel in GENERATED if not (tmp / rel).is_file()]
    if missing:
        raise SystemExit(f"{SCRIPT}: did not write {missing}")
    manifest = {"made_by": SCRIPT, "versions": versions, "stamp": stamp,
                "files": {rel: {"bytes": (tmp / rel).stat().st_size, "source": sources[rel]}
                          for rel in sorted(sources)}}
    write_json(tmp / "MANIFEST.json", manifest)
    (tmp / ".stamp").write_text(stamp + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True, type=Path, help="the committed real inputs (tests/inputs)")
    ap.add_argument("--out", required=True, type=Path, help="the test-data folder to write (build/testdata)")
    ap.add_argument("--force", action="store_true", help="regenerate even when --out is up to date")
    a = ap.parse_args()
    inputs, out = a.inputs.resolve(), a.out.resolve()
    for rel in COPIED:
        if not (inputs / rel).is_file():
            raise SystemExit(f"{SCRIPT}: missing committed input {inputs / rel} (see tests/inputs/README.md)")
    versions = peer_versions()
    stamp = stamp_of(inputs, versions)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One generator at a time per folder (two ctest runs at once); the second then finds the folder complete.
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Leftovers of runs killed before this one (none is running: the lock is ours).
        for p in [*out.parent.glob(f".{out.name}.tmp.*"), *out.parent.glob(f".{out.name}.old.*")]:
            shutil.rmtree(p, ignore_errors=True)
        if complete(out, stamp) and not a.force:
            print(f"{out}: up to date (stamp {stamp[:12]}, {SCRIPT})")
            return
        t0 = time.time()
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp.", dir=out.parent))
        try:
            generate(tmp, inputs, versions, stamp)
            os.chmod(tmp, 0o755)  # mkdtemp makes it private
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
                os.rename(out, old / "x")
                os.rename(tmp, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        print(f"{out}: written in {time.time() - t0:.1f} s by {SCRIPT} "
              f"(torch {versions['torch']}, transformers {versions['transformers']}, "
              f"tokenizers {versions['tokenizers']}, pyarrow {versions['pyarrow']}, PIL {versions['PIL']})")


if __name__ == "__main__":
    main()
