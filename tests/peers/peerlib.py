"""Small shared helpers for the live checks in tests/peers/check_*.py (each a CTest `Peers.<name>`).

Independent functions, no state:
  parse_args(description)          the common command line: --prospect BIN --testdata DIR --work DIR (+ --keep)
  fresh_dir(path) / finish(...)    the check's scratch folder: emptied at start, removed when the check passes
  run_prospect(bin, args)          runs one `prospect` subcommand, echoes its command line and output; raises
                                   ProspectFailed (a SystemExit) when it fails
  fail_now(msg)                    prints FAIL: msg and exits with status 1
  max_abs(a, b), rel_to_max(a, b)  error measures (fp64), shape-checked
  Report                           rows of (what, error, tolerance) printed as they come; .ok, .exit_code()
  smolvlm_config(spec)             a transformers SmolVLMConfig from a small dict of the knobs the checks vary
  random_smolvlm(spec, seed)       SmolVLMForConditionalGeneration with fixed-seed random weights of useful size
  smolvlm_batch(spec, seed)        a batch laid out like the fixture's tiny_io.safetensors for that config
  tiny_synth / tiny_train          `prospect synth` data + model, and a short `prospect train` run on them

Only the Python peers are used here (torch, transformers, safetensors); every input is made at test time.
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def parse_args(description, extra=None):
    """The arguments tests/CMakeLists.txt passes to every peer check; `extra(parser)` may add more."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--prospect", required=True, help="path to the prospect binary")
    p.add_argument("--testdata", required=True, help="the build's generated test-data folder")
    p.add_argument("--work", required=True, help="scratch folder of this check (removed when it passes)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder even when the check passes")
    if extra:
        extra(p)
    return p.parse_args()


def fresh_dir(path):
    """Empties (or creates) a scratch folder and returns it as a Path."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def finish(report, work, keep=False, started=None):
    """Prints the verdict, removes the scratch folder when everything passed, and returns the exit code."""
    if started is not None:
        print(f"time: {time.time() - started:.1f} s")
    code = report.exit_code()
    if code == 0 and not keep:
        shutil.rmtree(work, ignore_errors=True)
    elif code != 0:
        print(f"scratch files kept in {work}")
    return code


class ProspectFailed(SystemExit):
    """`prospect` exited with a non-zero status (its output was already printed). A SystemExit: uncaught, it
    ends the check with status 1 and this message; a check may catch it to record the case and go on."""


def run_prospect(binary, args, env=None):
    """Runs `binary args...`, echoing the command line and its output. Returns stdout; raises ProspectFailed
    when it exits non-zero."""
    cmd = [str(binary)] + [str(a) for a in args]
    print("$ " + " ".join(cmd), flush=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    r = subprocess.run(cmd, capture_output=True, text=True, env=full_env)
    out = (r.stdout + r.stderr).strip()
    if out:
        print("  " + out.replace("\n", "\n  "), flush=True)
    if r.returncode != 0:
        raise ProspectFailed(f"FAIL: prospect exited with status {r.returncode}: {r.stderr.strip()[-300:]}")
    return r.stdout


def _pair(a, b):
    import torch

    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape {tuple(a.shape)} vs {tuple(b.shape)}")
    return a, b


def max_abs(a, b):
    """max |a - b| in fp64 (0 for empty tensors); raises ValueError on a shape mismatch."""
    a, b = _pair(a, b)
    return 0.0 if a.numel() == 0 else float((a - b).abs().max())


def rel_to_max(a, ref):
    """max |a - ref| / max |ref| (the gradient measure of the fixture README); 0 when both are all zero."""
    a, ref = _pair(a, ref)
    if a.numel() == 0:
        return 0.0
    err = float((a - ref).abs().max())
    scale = float(ref.abs().max())
    if scale == 0.0:
        return 0.0 if err == 0.0 else math.inf
    return err / scale


def rel_scalar(a, ref):
    """|a - ref| / |ref| for scalars (tensors or numbers)."""
    a, ref = float(a), float(ref)
    return abs(a - ref) / abs(ref) if ref != 0 else (0.0 if a == 0 else math.inf)


class Report:
    """Collects checks; each is printed at once as `ok|FAIL  what  error (tolerance)`."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def check(self, what, error, tol, detail=""):
        ok = error <= tol and not math.isnan(error)
        self.count += 1
        if not ok:
            self.failures.append(what)
        tail = f"  {detail}" if detail else ""
        print(f"  {'ok  ' if ok else 'FAIL'}  {what:<44s} {error:.3e}  (tol {tol:.0e}){tail}", flush=True)
        return ok

    def require(self, what, condition, detail=""):
        """A yes/no check (names match, counts agree, ...)."""
        self.count += 1
        if not condition:
            self.failures.append(what)
        print(f"  {'ok  ' if condition else 'FAIL'}  {what}{'  ' + detail if detail else ''}", flush=True)
        return condition

    @property
    def ok(self):
        return not self.failures

    def exit_code(self):
        if self.failures:
            print(f"FAILED: {len(self.failures)} of {self.count} checks: " + ", ".join(self.failures[:10]) +
                  (", ..." if len(self.failures) > 10 else ""))
            return 1
        print(f"PASSED: all {self.count} checks")
        return 0


# ---- tiny random SmolVLM models -------------------------------------------------------------------------

# Knobs of smolvlm_config(); everything else is transformers' default for the class.
SPEC_DEFAULTS = dict(
    image_size=32, patch_size=4, scale_factor=2, pixel_size=None,  # pixel_size: fed image side (None = image_size)
    v_hidden=32, v_inter=64, v_layers=2, v_heads=4, v_act="gelu_pytorch_tanh", v_eps=1e-6,
    hidden=64, inter=128, layers=2, heads=4, kv_heads=2, head_dim=None, rope_theta=10000.0, rms_eps=1e-5,
    vocab=300, tied=False, batch=2, images=(2, 1), max_images=None, text_len=24,
)


def full_spec(spec):
    s = dict(SPEC_DEFAULTS)
    unknown = set(spec) - set(s) - {"name"}
    if unknown:
        raise ValueError(f"unknown spec keys {sorted(unknown)}")
    s.update(spec)
    return s


def image_token_id(spec):
    return full_spec(spec)["vocab"] - 2  # <image>; vocab - 1 is <fake_token_around_image>


def tokens_per_image(spec):
    s = full_spec(spec)
    side = (s["pixel_size"] or s["image_size"]) // s["patch_size"]
    return side * side // (s["scale_factor"] ** 2)


def smolvlm_config(spec):
    """A transformers SmolVLMConfig for a spec dict (see SPEC_DEFAULTS)."""
    from transformers import SmolVLMConfig

    s = full_spec(spec)
    text = dict(model_type="llama", vocab_size=s["vocab"], hidden_size=s["hidden"], intermediate_size=s["inter"],
                num_hidden_layers=s["layers"], num_attention_heads=s["heads"], num_key_value_heads=s["kv_heads"],
                rms_norm_eps=s["rms_eps"], rope_parameters={"rope_type": "default", "rope_theta": s["rope_theta"]},
                max_position_embeddings=1024, hidden_act="silu", pad_token_id=0, bos_token_id=1, eos_token_id=2,
                tie_word_embeddings=s["tied"])
    if s["head_dim"] is not None:
        text["head_dim"] = s["head_dim"]
    vision = dict(hidden_size=s["v_hidden"], intermediate_size=s["v_inter"], num_hidden_layers=s["v_layers"],
                  num_attention_heads=s["v_heads"], image_size=s["image_size"], patch_size=s["patch_size"],
                  num_channels=3, layer_norm_eps=s["v_eps"], hidden_act=s["v_act"])
    return SmolVLMConfig(vision_config=vision, text_config=text, scale_factor=s["scale_factor"],
                         image_token_id=image_token_id(s), tie_word_embeddings=s["tied"], pad_token_id=0)


def random_smolvlm(spec, seed, attn="eager"):
    """SmolVLMForConditionalGeneration in fp32 with fixed-seed random weights: norms 1 + 0.1 N(0,1), everything
    else 0.08 N(0,1) (large enough that every layer matters, small enough that softmaxes stay soft)."""
    import torch
    from transformers import SmolVLMForConditionalGeneration

    model = SmolVLMForConditionalGeneration._from_config(smolvlm_config(spec), attn_implementation=attn)
    model = model.float().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
    return model


def smolvlm_batch(spec, seed):
    """One right-padded batch laid out like tiny_io.safetensors: input_ids [B,T] (text tokens and, per real
    image, <fake> <image>*K <fake>), attention_mask [B,T], labels [B,T] (-100 except on about half of the text
    tokens after the first image), pixel_values [B, N, 3, S, S] in [-1, 1] with all-zero padding images
    (every batch has at least one, as max_images >= 1 + the most images of a sample)."""
    import torch

    s = full_spec(spec)
    g = torch.Generator().manual_seed(seed)
    img_id, fake_id = image_token_id(s), s["vocab"] - 1
    k = tokens_per_image(s)
    images = list(s["images"])[: s["batch"]]
    images += [1] * (s["batch"] - len(images))
    n_max = s["max_images"] or (max(images) + 1)
    side = s["pixel_size"] or s["image_size"]
    seqs, labs = [], []
    for b, n in enumerate(images):
        ids, lab = [], []
        text_len = s["text_len"] - 3 * b  # unequal lengths: right padding in every batch

        def text(m, learn):
            for _ in range(m):
                t = int(torch.randint(3, s["vocab"] - 2, (1,), generator=g))
                ids.append(t)
                lab.append(t if learn and float(torch.rand((), generator=g)) < 0.6 else -100)

        text(text_len // 2, False)
        for _ in range(n):
            ids += [fake_id] + [img_id] * k + [fake_id]
            lab += [-100] * (k + 2)
            text(2, True)
        text(text_len - text_len // 2, True)
        seqs.append(ids)
        labs.append(lab)
    T = max(len(x) for x in seqs)
    B = len(seqs)
    input_ids = torch.zeros(B, T, dtype=torch.long)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        n = len(seqs[b])
        input_ids[b, :n] = torch.tensor(seqs[b])
        attention_mask[b, :n] = 1
        labels[b, :n] = torch.tensor(labs[b])
    pixel_values = torch.zeros(B, n_max, 3, side, side)
    for b, n in enumerate(images):
        pixel_values[b, :n] = (0.6 * torch.randn(n, 3, side, side, generator=g)).clamp(-1, 1)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "pixel_values": pixel_values}


def describe_spec(spec):
    """One line naming what a spec varies."""
    s = full_spec(spec)
    side = (s["pixel_size"] or s["image_size"]) // s["patch_size"]
    hd = s["head_dim"] or s["hidden"] // s["heads"]
    attn = "MHA" if s["kv_heads"] == s["heads"] else ("MQA" if s["kv_heads"] == 1 else "GQA")
    px = f", fed {s['pixel_size']}px" if s["pixel_size"] else ""
    return (f"vision {s['v_hidden']}d x{s['v_layers']} {s['v_heads']}h {s['v_act']}, image {s['image_size']}"
            f"/patch {s['patch_size']}{px} -> {side}x{side}, scale {s['scale_factor']} -> {tokens_per_image(s)} tok; "
            f"text {s['hidden']}d x{s['layers']} {s['heads']}h/{s['kv_heads']}kv ({attn}) head_dim {hd}, "
            f"theta {s['rope_theta']:g}, vocab {s['vocab']}, {'tied' if s['tied'] else 'untied'}; "
            f"batch {s['batch']} images {list(s['images'])[:s['batch']]}")


def save_safetensors(tensors, path):
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def load_safetensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def torch_threads_from_env():
    """One thread count for both sides: PROSPECT_THREADS (set to 1 when unset, which also reaches the prospect
    processes through the environment) becomes torch's intra-op thread count. Tiny models run fastest on one."""
    import torch

    n = os.environ.setdefault("PROSPECT_THREADS", "1")
    if n.isdigit() and int(n) > 0:
        torch.set_num_threads(int(n))


def begin_torch_check(doc, what):
    """The start of a check that runs transformers beside Prospect: its arguments (the first line of `doc` as the
    description), one thread count for both sides, a fresh work folder, a line naming the versions and `what`
    is compared. Returns (args, work, Report(), start time)."""
    args = parse_args(doc.splitlines()[0])
    import torch
    import transformers

    torch_threads_from_env()
    started = time.time()
    work = fresh_dir(args.work)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{what}")
    return args, work, Report(), started


def fail_now(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


# ---- tiny training runs (check_checkpoints, check_tensorboard) -------------------------------------------
# `prospect synth` data and random SmolVLM (frame pooling off: transformers has none, so it runs the same
# model), and short `prospect train` runs on them with one compute thread.

def tiny_synth(binary, work):
    """`prospect synth` into WORK/synth (reused when already there): 6/2/1 videos, 16 tokens per frame."""
    out = Path(work) / "synth"
    if not (out / "model" / "prospect_config.json").exists():
        run_prospect(binary, ["synth", "--out", out, "--train-videos", 6, "--val-videos", 2, "--test-videos", 1,
                              "--frame-pool", 0], env={"PROSPECT_THREADS": "1"})
    return out


def tiny_train(binary, work, name, steps=4, sets=(), validate=True):
    """`prospect train` for STEPS updates (batch 1, log every step; when VALIDATE, validation every 2 steps on
    at most 2 batches) on tiny_synth's data, in WORK/NAME, with extra `--set` overrides SETS; the config is
    WORK/NAME.json. Saves only at the end unless SETS say otherwise. Returns (run dir, last checkpoint) as Paths."""
    import json

    synth = tiny_synth(binary, work)
    run_dir = Path(work) / name
    config = {
        "model": {"path": str(synth / "model"), "head_type": "mlp"},
        "data": {"root": str(synth), "train": "train.json", "val": "val.json" if validate else "",
                 "max_seq_len": 512, "workers": 1},
        "optim": {"lr": 1e-2},
        "schedule": {"name": "constant"},
        "train": {"batch_size": 1, "grad_accum": 1, "max_steps": steps, "log_every": 1, "eval_every": 2,
                  "eval_max_batches": 2, "save_every": 0, "save_total_limit": 1, "best_metric": "",
                  "run_dir": str(run_dir), "quiet": True, "threads": 1, "device": "cpu"},
    }
    cfg_path = Path(work) / f"{name}.json"
    cfg_path.write_text(json.dumps(config, indent=2))
    args = ["train", "--config", cfg_path]
    for s in sets:
        args += ["--set", s]
    run_prospect(binary, args, env={"PROSPECT_THREADS": "1"})
    ckpts = [p for p in (run_dir / "checkpoints").glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    return run_dir, max(ckpts, key=lambda p: int(p.name.split("-")[1]))
