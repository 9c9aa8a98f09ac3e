#!/usr/bin/env python3
"""HF Trainer with the Python package's collator trains the tiny model, and the first batch's loss equals
`prospect train`'s.

1. Same batch, both sides: `prospect train` on a one-clip split (batch 1, one update, log every step) logs the
   loss terms of its first batch before any update; transformers' SmolVLMForConditionalGeneration loaded from
   the same folder, fed `prospect.Collator`'s batch of that clip, gives the same LM and DST-generation cross
   entropies over lm_labels / dst_labels, and its own `loss` with the collator's `labels` equals their
   token-weighted mean (fp32, relative <= 1e-5).
2. examples/hf_trainer.py: transformers.Trainer(data_collator=prospect.Collator) trains the tiny model and its
   decision heads for a few steps (finite losses), saves a Prospect checkpoint, streams it with prospect.Stream
   and scores it with prospect.evaluate.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import peerlib  # noqa: E402

TOL = 1e-5


def main():
    args = peerlib.parse_args(__doc__.splitlines()[0])
    peerlib.torch_threads_from_env()
    started = time.time()
    work = peerlib.fresh_dir(args.work)
    try:
        import prospect
    except ImportError as e:
        peerlib.fail_now(f"the Python package is not installed ({e}): run `.venv/bin/pip install "
                         "--no-build-isolation .` (scripts/build.sh does)")
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import SmolVLMForConditionalGeneration

    print(f"prospect {prospect.__version__}, transformers {transformers.__version__}, torch {torch.__version__}")
    rep = peerlib.Report()
    synth = peerlib.tiny_synth(args.prospect, work)
    model_dir = synth / "model"

    # 1. One clip, one batch, both sides.
    clip0 = json.loads((synth / "train.json").read_text())[0]
    (synth / "one.json").write_text(json.dumps([clip0]))
    run_dir, _ = peerlib.tiny_train(args.prospect, work, "one", steps=1, validate=False,
                                    sets=["data.train=one.json", "data.max_seq_len=4096"])
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    first = next(r for r in recs if r.get("step") == 1 and r.get("kind", "train") != "val")
    print(f"  prospect train step 1: loss {first['loss']:.6f}, lm {first['lm_loss']:.6f}, "
          f"dst_gen {first['dst_gen_loss']:.6f}")

    collator = prospect.Collator(model_dir, max_seq_len=4096, frames_root=synth)
    ds = prospect.Dataset(synth / "one.json", frames_root=synth, collator=collator)
    rep.require("the one-clip split is one sample", len(ds) == 1, f"{len(ds)} items")
    batch = collator([ds[0]])
    model = SmolVLMForConditionalGeneration.from_pretrained(model_dir, attn_implementation="eager").float().eval()
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    pixel_values=batch["pixel_values"], labels=batch["labels"])
        logits = out.logits.float()

    def ce(labels):
        tgt = labels[:, 1:]
        m = tgt != -100
        return F.cross_entropy(logits[:, :-1][m], tgt[m], reduction="sum"), int(m.sum())

    lm_sum, n_lm = ce(batch["lm_labels"])
    dst_sum, n_dst = ce(batch["dst_labels"])
    print(f"  batch {tuple(batch['input_ids'].shape)}, pixel_values {tuple(batch['pixel_values'].shape)}, "
          f"{n_lm} LM and {n_dst} DST labelled tokens")
    rep.check("LM loss (lm_labels) vs prospect train lm_loss", peerlib.rel_scalar(lm_sum / n_lm, first["lm_loss"]),
              TOL, f"{float(lm_sum / n_lm):.6f} vs {first['lm_loss']:.6f}")
    rep.check("DST loss (dst_labels) vs prospect train dst_gen_loss",
              peerlib.rel_scalar(dst_sum / n_dst, first["dst_gen_loss"]), TOL,
              f"{float(dst_sum / n_dst):.6f} vs {first['dst_gen_loss']:.6f}")
    merged = (first["lm_loss"] * n_lm + first["dst_gen_loss"] * n_dst) / (n_lm + n_dst)
    rep.check("HF loss with the collator's labels vs prospect's terms", peerlib.rel_scalar(out.loss, merged), TOL,
              f"{float(out.loss):.6f} vs {merged:.6f}")

    # 2. The example: HF Trainer for a few steps, then stream and score.
    cmd = [sys.executable, str(ROOT / "examples" / "hf_trainer.py"), "--data", str(synth), "--model",
           str(model_dir), "--out", str(work / "hf"), "--steps", "3", "--batch-size", "2", "--max-seq-len", "512",
           "--test-clips", "1", "--threshold", "0.3"]
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    tail = (r.stdout + r.stderr).strip().splitlines()
    print("  " + "\n  ".join(tail[-25:]))
    rep.require("examples/hf_trainer.py exits 0", r.returncode == 0, f"status {r.returncode}")
    if r.returncode == 0:
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        terms = summary["terms"]
        finite = all(all(v == v and abs(v) < 1e6 for v in t.values()) for t in terms)
        rep.require("HF Trainer ran 3 steps with finite losses", len(terms) == 3 and finite,
                    " -> ".join(f"{t['loss']:.4f}" for t in terms))
        m = summary["metrics"]
        rep.require("the fine-tuned checkpoint streams and scores", "speaking" in m and m.get("clips") == 1,
                    f"{summary['events']} events, speaking F1 {m['speaking']['f1']}")
    return peerlib.finish(rep, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
