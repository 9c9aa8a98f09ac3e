# The Python stack's reference speed (docs/PERFORMANCE.md), copied unchanged below these two lines from the
# project's reference scripts so that scripts/gpu_check.sh needs nothing beside the checkout.
"""Reference speed of the Python stack (transformers SmolVLM, PyTorch eager, SDPA) on one GPU.

Random weights in the SmolVLM2-2.2B shape (no download needed). Prints one JSON line per figure:
  train_step   forward+backward+AdamW on one clip of N frames (81 image tokens each) + text,
               pure bf16 weights with fused AdamW (fp32 master weights under autocast fail in
               transformers 5.17's SmolVLM inputs_merger)
  train_step_frozen_vision   the same with the vision tower frozen
  stream_frame streaming inference: per new frame, encode it and extend the KV cache (bf16 weights)
"""
import json
import sys
import time
import traceback

import torch
from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration

N_FRAMES = int(sys.argv[1]) if len(sys.argv) > 1 else 32
TEXT_TOKENS = 600
torch.manual_seed(0)
dev = "cuda"
IMG_ID = 49190

cfg = SmolVLMConfig(
    vision_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                       num_attention_heads=16, image_size=384, patch_size=14),
    text_config=dict(model_type="llama", vocab_size=49280, hidden_size=2048, intermediate_size=8192,
                     num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=32,
                     rms_norm_eps=1e-5, rope_theta=273768.0, max_position_embeddings=16384,
                     tie_word_embeddings=False, pad_token_id=2),
    scale_factor=3, image_token_id=IMG_ID, tie_word_embeddings=False, pad_token_id=2,
)
SEQ_PER_IMG = (384 // 14) ** 2 // 9  # 81


def emit(**kw):
    print(json.dumps(kw), flush=True)


def make_inputs(n_frames, text_tokens):
    ids = []
    rng = torch.Generator().manual_seed(0)
    ids += torch.randint(100, 49000, (text_tokens // 2,), generator=rng).tolist()
    for _ in range(n_frames):
        ids += [49189] + [IMG_ID] * SEQ_PER_IMG + [49189]
        ids += torch.randint(100, 49000, (8,), generator=rng).tolist()
    ids += torch.randint(100, 49000, (text_tokens // 2,), generator=rng).tolist()
    input_ids = torch.tensor([ids], device=dev)
    labels = input_ids.clone()
    labels[input_ids == IMG_ID] = -100
    pv = torch.randn(1, n_frames, 3, 384, 384, device=dev).clamp(-1, 1)
    return input_ids, labels, pv


def count(m):
    return sum(p.numel() for p in m.parameters())


emit(gpu=torch.cuda.get_device_name(0), torch=torch.__version__)

for frozen in (False, True):
    name = "train_step_frozen_vision" if frozen else "train_step"
    try:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        with torch.device(dev):
            model = SmolVLMForConditionalGeneration._from_config(cfg, attn_implementation="sdpa")
        # fp32 master weights under autocast fail inside SmolVLM's inputs_merger (index_put dtype
        # mismatch, transformers 5.17), so the reference trains pure bf16 weights, as SmolVLM's
        # fine-tuning recipes load it
        model = model.to(dev, dtype=torch.bfloat16).train()
        vis = model.model.vision_model
        if frozen:
            for p in vis.parameters():
                p.requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-5, fused=True)
        input_ids, labels, pv = make_inputs(N_FRAMES, TEXT_TOKENS)
        times = []
        for step in range(7):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(input_ids=input_ids, pixel_values=pv.to(torch.bfloat16), labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        t = sorted(times[2:])
        emit(figure=name, n_frames=N_FRAMES, seq_len=input_ids.shape[1],
             vision_tokens=N_FRAMES * 729, params_total=count(model),
             params_vision=count(vis), params_trainable=sum(p.numel() for p in params),
             step_s_median=t[len(t) // 2], step_s_min=t[0],
             tokens_per_s=input_ids.shape[1] / t[len(t) // 2],
             peak_mem_gib=torch.cuda.max_memory_allocated() / 2**30, loss=float(out.loss))
        del model, opt, out
    except Exception as e:
        traceback.print_exc()
        emit(figure=name, error=repr(e)[:300])

# streaming inference: bf16 weights, KV cache, one frame at a time
try:
    torch.cuda.empty_cache()
    with torch.device(dev):
        model = SmolVLMForConditionalGeneration._from_config(cfg, attn_implementation="sdpa")
    model = model.to(dev, dtype=torch.bfloat16).eval()
    from transformers import DynamicCache
    prefix = torch.randint(100, 49000, (1, 300), device=dev)
    lat = []
    with torch.no_grad():
        cache = DynamicCache()
        out = model(input_ids=prefix, past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        pos = prefix.shape[1]
        for f in range(N_FRAMES + 3):
            ids = torch.tensor([[49189] + [IMG_ID] * SEQ_PER_IMG + [49189]], device=dev)
            pv = torch.randn(1, 1, 3, 384, 384, device=dev, dtype=torch.bfloat16)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(input_ids=ids, pixel_values=pv, past_key_values=cache, use_cache=True,
                        attention_mask=torch.ones(1, pos + ids.shape[1], device=dev, dtype=torch.long))
            _ = out.logits[:, -1].float().softmax(-1)
            torch.cuda.synchronize()
            lat.append(time.perf_counter() - t0)
            cache = out.past_key_values
            pos += ids.shape[1]
    l = sorted(lat[3:])
    emit(figure="stream_frame", frames=len(l), ms_median=1000 * l[len(l) // 2], ms_min=1000 * l[0],
         ms_max=1000 * l[-1], context_tokens_end=pos)
except Exception as e:
    traceback.print_exc()
    emit(figure="stream_frame", error=repr(e)[:300])
