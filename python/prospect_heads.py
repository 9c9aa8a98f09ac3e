"""Prospect's decision heads in PyTorch, for a checkpoint directory that transformers loads.

A Prospect checkpoint is an HF SmolVLM directory (``SmolVLMForConditionalGeneration.from_pretrained(dir)``)
plus two files transformers ignores:

- ``prospect_config.json``: ``head_type`` ("linear" or "mlp"), ``hidden_size`` (the text model's H),
  ``frame_pool`` (0, or k when each frame's image tokens were pooled to a k x k grid: a Prospect extension
  that transformers does not apply, so such a checkpoint's logits differ in transformers);
- ``prospect_heads.safetensors``: ``speak_head.*`` and ``dst_head.*``, fp32, in nn.Module naming.

Each head is ``nn.Linear(H, 1)`` (linear) or ``nn.Sequential(nn.Linear(H, H // 2), nn.GELU(), nn.Linear(H // 2, 1))``
(mlp; exact erf GELU). It reads the final-norm hidden state (transformers' ``last_hidden_state``) at a decision
position, the last token of a frame block; sigmoid of its output is the probability of "speak now" / "update
the task state now". ``prospect forward --heads`` writes Prospect's own head logits at every position.

    import sys; sys.path.insert(0, "<prospect checkout>/python")
    from prospect_heads import heads_probabilities, load_heads
    heads = load_heads(ckpt)                                    # nn.ModuleDict: speak_head, dst_head
    out = model.model(**inputs)                                 # SmolVLMModel: last_hidden_state [B, T, H]
    probs = heads_probabilities(heads, out.last_hidden_state)  # {"speak": [B, T], "dst": [B, T]}
"""
import json
import os

import torch
from safetensors.torch import load_file

HEAD_NAMES = ("speak_head", "dst_head")


def build_head(hidden_size: int, head_type: str) -> torch.nn.Module:
    if head_type == "linear":
        return torch.nn.Linear(hidden_size, 1)
    if head_type == "mlp":
        mid = max(1, hidden_size // 2)
        return torch.nn.Sequential(torch.nn.Linear(hidden_size, mid), torch.nn.GELU(), torch.nn.Linear(mid, 1))
    raise ValueError(f"unknown head_type {head_type!r} (expected linear or mlp)")


def load_heads(model_dir: str) -> torch.nn.ModuleDict:
    """The speak and DST-update heads saved in ``model_dir`` (strict: every tensor present, none extra)."""
    with open(os.path.join(model_dir, "prospect_config.json")) as f:
        cfg = json.load(f)
    heads = torch.nn.ModuleDict({n: build_head(int(cfg["hidden_size"]), cfg.get("head_type", "linear"))
                                 for n in HEAD_NAMES})
    heads.load_state_dict(load_file(os.path.join(model_dir, "prospect_heads.safetensors")), strict=True)
    return heads.float().eval()


@torch.no_grad()
def heads_logits(heads: torch.nn.ModuleDict, hidden: torch.Tensor) -> dict:
    """Hidden states [..., H] (any float dtype) -> {"speak": [...], "dst": [...]} fp32 logits."""
    h = hidden.float()
    return {n.removesuffix("_head"): heads[n](h).squeeze(-1) for n in HEAD_NAMES}


def heads_probabilities(heads: torch.nn.ModuleDict, hidden: torch.Tensor) -> dict:
    return {k: torch.sigmoid(v) for k, v in heads_logits(heads, hidden).items()}
