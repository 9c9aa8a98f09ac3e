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

The llama_features family is an HF ``LlamaForCausalLM`` directory (config.json with Prospect's keys under
``"prospect"``: ``feature_dim`` D, ``frame_tokens`` K, ``image_token_id``) plus ``prospect_projector.safetensors``
(``projector.linear_1.*``, ``projector.linear_2.*``): frame features [n, K, D] -> Linear(D, H) -> GELU (erf) ->
Linear(H, H), whose outputs replace the ``image_token_id`` placeholder embeddings in order::

    from prospect_heads import load_projector, merge_frame_features
    model = LlamaForCausalLM.from_pretrained(ckpt)
    projector = load_projector(ckpt)                            # FeatureProjector
    embeds = merge_frame_features(model, projector, input_ids, features, image_token_id)
    out = model(inputs_embeds=embeds, attention_mask=attention_mask)
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


PROJECTOR_FILE = "prospect_projector.safetensors"


class FeatureProjector(torch.nn.Module):
    """Prospect's frame-feature projector (LLaVA's mlp2x_gelu): Linear(D, H) -> GELU -> Linear(H, H)."""

    def __init__(self, feature_dim: int, hidden_size: int):
        super().__init__()
        self.linear_1 = torch.nn.Linear(feature_dim, hidden_size)
        self.act = torch.nn.GELU()
        self.linear_2 = torch.nn.Linear(hidden_size, hidden_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


def load_projector(model_dir: str) -> torch.nn.Module:
    """The projector saved in ``model_dir`` (strict: the four tensors, nothing else), fp32, eval mode."""
    tensors = load_file(os.path.join(model_dir, PROJECTOR_FILE))
    prefix = "projector."
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if len(state) != len(tensors):
        raise ValueError(f"{PROJECTOR_FILE}: tensors outside projector.*: {sorted(set(tensors) - set(prefix + k for k in state))}")
    hidden, feature_dim = state["linear_1.weight"].shape
    proj = FeatureProjector(int(feature_dim), int(hidden))
    proj.load_state_dict(state, strict=True)
    return proj.float().eval()


def merge_frame_features(model, projector, input_ids, features, image_token_id):
    """Token embeddings of ``input_ids`` [B, T] with the ``image_token_id`` positions replaced, in order, by the
    projector outputs of ``features`` [n, K, D] (n * K must equal the placeholder count)."""
    embeds = model.get_input_embeddings()(input_ids)
    proj = projector(features.to(embeds.dtype)).reshape(-1, embeds.shape[-1])
    mask = (input_ids == image_token_id).unsqueeze(-1)
    if int(mask.sum()) != proj.shape[0]:
        raise ValueError(f"{int(mask.sum())} placeholder tokens but {proj.shape[0]} projected feature tokens")
    return embeds.masked_scatter(mask, proj)
