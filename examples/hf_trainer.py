#!/usr/bin/env python3
"""Fine-tune a SmolVLM checkpoint with HF Trainer and Prospect's collator, then stream and score it.

    prospect synth --out data                       # a tiny dataset and random model (or use your own)
    python examples/hf_trainer.py --data data --model data/model --out runs/hf --steps 20

1. `prospect.Dataset` over the (sub-)clips of DATA/train.json and `prospect.Collator` (the data.* options of
   `prospect train`) feed `transformers.Trainer` (data_collator=collator): input_ids, attention_mask,
   pixel_values and labels for SmolVLMForConditionalGeneration, plus the decision points of both heads.
2. `compute_loss` adds the two heads' balanced BCE (prospect_heads.py: the heads of a Prospect checkpoint) to
   the language-model loss over the labelled tokens.
3. The fine-tuned model is saved as a Prospect checkpoint (HF files + prospect_heads.safetensors +
   prospect_config.json + tokenizer.json), streamed frame by frame with `prospect.Stream` over DATA/test.json
   and scored with `prospect.evaluate` (the metrics of `prospect eval`).
Prints one JSON line at the end: the training losses, the streamed events and the metrics.
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import SmolVLMForConditionalGeneration, Trainer, TrainingArguments

import prospect

try:
    import prospect_heads  # installed beside the package; in a checkout: python/prospect_heads.py
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    import prospect_heads


class WithHeads(torch.nn.Module):
    """The HF model and Prospect's two decision heads, trained together."""

    def __init__(self, vlm, heads):
        super().__init__()
        self.vlm = vlm
        self.heads = heads


def balanced_bce(logits, targets):
    """Prospect's balanced BCE: mean over positives + mean over negatives, halved when both exist."""
    if logits.numel() == 0:
        return logits.sum()
    per = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    pos, neg = targets > 0.5, targets <= 0.5
    terms = [per[m].mean() for m in (pos, neg) if m.any()]
    return sum(terms) / len(terms)


class ProspectTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = model.vlm.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                              pixel_values=inputs["pixel_values"])
        h = out.last_hidden_state  # final-norm hidden states [B, T, H]
        labels = inputs["labels"]
        # Next-token cross entropy over the labelled tokens (assistant and DST messages), at labelled positions.
        tgt = labels[:, 1:]
        m = tgt != -100
        logits = model.vlm.lm_head(h[:, :-1][m])
        lm = F.cross_entropy(logits.float(), tgt[m]) if m.any() else h.sum() * 0
        sp, dp = inputs["speak_positions"], inputs["dst_positions"]
        speak = balanced_bce(model.heads["speak_head"](h[sp[:, 0], sp[:, 1]]).squeeze(-1).float(),
                             inputs["speak_targets"])
        dst = balanced_bce(model.heads["dst_head"](h[dp[:, 0], dp[:, 1]]).squeeze(-1).float(),
                           inputs["dst_targets"])
        loss = lm + speak + dst
        self.terms.append({"loss": float(loss), "lm": float(lm), "speak": float(speak), "dst": float(dst)})
        return (loss, out) if return_outputs else loss


def save_prospect_checkpoint(model, base_dir, out_dir):
    """HF files + heads + prospect_config.json + the tokenizer: a folder prospect.Stream (and `prospect
    stream`) loads."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.vlm.save_pretrained(out_dir, safe_serialization=True)
    save_file({k: v.detach().float().contiguous() for k, v in model.heads.state_dict().items()},
              str(out_dir / "prospect_heads.safetensors"))
    for name in ("prospect_config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
                 "processor_config.json"):
        if (base_dir / name).exists():
            shutil.copy(base_dir / name, out_dir / name)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with train.json and test.json (and their frames)")
    p.add_argument("--model", required=True, help="Prospect/HF SmolVLM checkpoint folder to start from")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-seq-len", type=int, default=1024)
    p.add_argument("--test-clips", type=int, default=2, help="stream this many test clips")
    p.add_argument("--threshold", type=float, default=0.5)
    a = p.parse_args()
    data, base, out = Path(a.data), Path(a.model), Path(a.out)
    torch.manual_seed(0)

    collator = prospect.Collator(base, max_seq_len=a.max_seq_len, neg_frame_sampling_rate=0.5)
    train_set = prospect.Dataset(data / "train.json", frames_root=data, collator=collator)
    vlm = SmolVLMForConditionalGeneration.from_pretrained(base, attn_implementation="eager").float()
    if (base / "prospect_heads.safetensors").exists():
        heads = prospect_heads.load_heads(str(base)).train()
    else:
        hidden = vlm.config.text_config.hidden_size
        heads = torch.nn.ModuleDict({n: prospect_heads.build_head(hidden, "mlp") for n in prospect_heads.HEAD_NAMES})
    model = WithHeads(vlm, heads)

    args = TrainingArguments(output_dir=str(out / "trainer"), max_steps=a.steps, per_device_train_batch_size=a.batch_size,
                             learning_rate=a.lr, lr_scheduler_type="constant", logging_steps=1, save_strategy="no",
                             report_to=[], use_cpu=True, remove_unused_columns=False, dataloader_num_workers=0,
                             disable_tqdm=True, seed=0)
    trainer = ProspectTrainer(model=model, args=args, train_dataset=train_set, data_collator=collator)
    trainer.terms = []
    trainer.train()
    print(f"trained {a.steps} steps: loss {trainer.terms[0]['loss']:.4f} -> {trainer.terms[-1]['loss']:.4f}")

    ckpt = out / "checkpoint"
    save_prospect_checkpoint(model, base, ckpt)
    stream = prospect.Stream(ckpt, threshold_dst=a.threshold, threshold_speak=a.threshold)
    test = prospect.read_clips(data / "test.json")[: a.test_clips]
    events = []
    for i, clip in enumerate(test):
        r = stream.run(clip, i, on_event=lambda e, state: print(
            f"  clip {e['clip']} frame {e['frame']:4d} {e['type']:<10s} {e['text'][:60]!r}  state {state}"))
        events += r["events"]
    metrics = prospect.evaluate(test, events)
    print(json.dumps({"steps": a.steps, "terms": trainer.terms, "checkpoint": str(ckpt), "events": len(events),
                      "metrics": metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
