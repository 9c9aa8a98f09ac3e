#!/usr/bin/env python3
"""Peers.model_parity: Prospect's SmolVLM2 against transformers, live, on random models transformers builds now.

For each configuration in CONFIGS (scale factors 2/3/4, image and patch sizes including a patch grid that does
not divide the image (as the 2.2B model's 384 px / patch 14), an image fed below the tower's size, MHA / GQA / MQA,
odd head counts, an explicit head_dim, 1-4 layers, RoPE theta, tied and untied word embeddings):

  1. transformers makes SmolVLMForConditionalGeneration with fixed-seed random weights (fp32) and saves it with
     save_pretrained (config.json + model.safetensors: what `prospect forward --model` reads; no tokenizer needed);
  2. a right-padded batch like the fixture's tiny_io.safetensors (input_ids with K <image> tokens per real image,
     attention_mask, labels with -100, pixel_values [B, N, 3, H, W] with all-zero padding images) is saved;
  3. transformers reloads the folder (from_pretrained) with eager and with sdpa attention and runs forward +
     backward (mean CE over label tokens, its own loss);
  4. `prospect forward --grads --attention eager|sdpa` runs the same, and the outputs are compared:
     logits, last hidden state, image hidden states (connector output): max abs error <= 1e-4;
     loss: relative error <= 1e-5;
     every parameter gradient by HF name: max abs error / max |reference| <= 1e-4, except the attention key
     biases, whose gradient is zero in exact arithmetic (rounding noise on both sides): max |g| <= 1e-7;
     the set of gradient names must equal transformers' named_parameters() exactly.
Tolerances are those of the fixture README (fixtures/hf-smolvlm-tiny). Exit status 1 on any mismatch.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peerlib  # noqa: E402

TOL_ACT = 1e-4   # logits, hidden states, image hidden states: max abs error
TOL_LOSS = 1e-5  # loss: relative error
TOL_GRAD = 1e-4  # gradients: max abs error relative to the tensor's max magnitude
TOL_ZERO = 1e-7  # gradients that are zero in exact arithmetic (attention key biases): max |g|, both sides
# Non-parameter tensors of `prospect forward`'s output (the last three only with --step / --heads).
OUTPUT_KEYS = {"logits", "last_hidden_state", "image_hidden_states", "loss", "grad_norm", "speak_logits", "dst_logits"}

CONFIGS = [
    # the fixture's shape: scale 2, GQA 4/2, untied
    dict(name="s2-gqa-untied", rope_theta=100000.0, images=(3, 2)),
    # scale 4 on an 8x8 grid (4 tokens per image), MHA, one text layer, tied embeddings
    dict(name="s4-mha-tied", scale_factor=4, hidden=48, inter=96, layers=1, heads=4, kv_heads=4, tied=True,
         rope_theta=10000.0, v_layers=1, images=(2, 3), vocab=257),
    # scale 3 on 9x9 (SmolVLM2-2.2B's 81-token layout in miniature), odd heads 9/3 as the 256M model, 3 layers
    dict(name="s3-odd-heads", image_size=36, scale_factor=3, v_hidden=36, v_heads=3, v_inter=72, hidden=72, inter=144,
         layers=3, heads=9, kv_heads=3, rope_theta=100000.0, images=(1, 2, 1), batch=3),
    # patch 6 (6x6 grid), MQA 5/1, odd vision heads, tied, large theta, plain gelu in the vision MLP
    dict(name="p6-mqa-tied", image_size=36, patch_size=6, v_hidden=40, v_heads=5, v_inter=80, v_act="gelu",
         hidden=40, inter=112, layers=2, heads=5, kv_heads=1, rope_theta=500000.0, tied=True, images=(1, 2)),
    # image 38 / patch 4: the conv drops 2 px (9x9 grid), as the 2.2B model's 384 / 14; head_dim 16 != 48 / 6
    dict(name="ragged-headdim", image_size=38, scale_factor=3, hidden=48, inter=128, layers=2, heads=6, kv_heads=2,
         head_dim=16, rope_theta=130000.0, rms_eps=1e-6, images=(2, 1)),
    # 4x4 grid (patch 8), 4 text layers, 7 MHA heads, 3 vision layers, theta 1e6, untied
    dict(name="p8-deep-mha7", patch_size=8, v_layers=3, hidden=56, inter=96, layers=4, heads=7, kv_heads=7,
         rope_theta=1e6, v_eps=1e-5, images=(1, 3), text_len=40),
    # images fed at 24 px to a 32-px tower: the 6x6 patch grid maps onto the 8x8 position table by bucketing
    dict(name="small-image", pixel_size=24, scale_factor=3, hidden=64, inter=128, layers=2, heads=8, kv_heads=2,
         rope_theta=10000.0, images=(2, 2), tied=True),
]


def hf_run(model_dir, batch, attn, K):
    """transformers' forward + backward on `batch`: dict of outputs and {name: grad}, plus the parameter names."""
    import torch
    from transformers import SmolVLMForConditionalGeneration

    model = SmolVLMForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation=attn,
                                                            dtype=torch.float32).eval()
    captured = {}
    hook = model.model.text_model.norm.register_forward_hook(lambda m, i, o: captured.__setitem__("h", o))
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                pixel_values=batch["pixel_values"], labels=batch["labels"], return_dict=True)
    hook.remove()
    out.loss.backward()
    feats = out.image_outputs.pooler_output  # per sample [n_b * K, H]
    feats = torch.cat(list(feats), 0)
    res = {"logits": out.logits.detach(), "last_hidden_state": captured["h"].detach(),
           "image_hidden_states": feats.detach().reshape(-1, K, feats.shape[-1]), "loss": out.loss.detach().reshape(1)}
    names = [n for n, _ in model.named_parameters()]
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return res, grads, names


def compare(report, tag, ref, ref_grads, names, got):
    for key in ("logits", "last_hidden_state", "image_hidden_states"):
        if key not in got:
            report.require(f"{tag} {key}", False, "missing from prospect's output")
            continue
        try:
            err = peerlib.max_abs(got[key], ref[key])
        except ValueError as e:
            report.require(f"{tag} {key} shape", False, str(e))
            continue
        report.check(f"{tag} {key} max abs", err, TOL_ACT, f"shape {list(ref[key].shape)}")
    if "loss" not in got:
        report.require(f"{tag} loss", False, "missing from prospect's output")
    else:
        report.check(f"{tag} loss rel", peerlib.rel_scalar(got["loss"], ref["loss"]), TOL_LOSS,
                     f"{float(got['loss']):.7f} vs {float(ref['loss']):.7f}")
    got_names = set(got) - OUTPUT_KEYS
    missing = [n for n in names if n not in got_names]
    extra = sorted(got_names - set(names))
    report.require(f"{tag} gradient names", not missing and not extra,
                   f"{len(names)} HF parameters, {len(got_names)} prospect gradients" +
                   (f"; missing {missing[:4]}" if missing else "") + (f"; extra {extra[:4]}" if extra else ""))
    worst, worst_name, over, shapes, zero = 0.0, "", [], [], []
    for n in names:
        if n not in got or n not in ref_grads:
            continue
        if n.endswith("self_attn.k_proj.bias"):
            # Zero in exact arithmetic (the key bias adds the same q.b to every score of a softmax row): both
            # sides hold rounding noise, which a relative measure cannot compare. Both must be noise.
            zero.append(max(float(got[n].abs().max()), float(ref_grads[n].abs().max())))
            continue
        try:
            e = peerlib.rel_to_max(got[n], ref_grads[n])
        except ValueError as ex:
            shapes.append(f"{n}: {ex}")
            continue
        if not e <= TOL_GRAD:
            over.append(f"{n}: {e:.2e}")
        if worst == worst and not e <= worst:  # a NaN, once seen, stays
            worst, worst_name = e, n
    if zero:
        report.check(f"{tag} {len(zero)} key-bias gradients (exactly 0)", max(zero), TOL_ZERO,
                     "max |g| of either side")
    if shapes:
        report.require(f"{tag} gradient shapes", False, "; ".join(shapes[:4]))
    report.check(f"{tag} gradients (worst of {len(names) - len(zero)})", worst, TOL_GRAD,
                 worst_name + (f"; over tolerance: {over[:6]}" if len(over) > 1 else ""))
    return worst


def main():
    args, work, report, started = peerlib.begin_torch_check(
        __doc__, f"{len(CONFIGS)} random SmolVLM configurations, eager and sdpa attention")
    summary = []
    for i, spec in enumerate(CONFIGS):
        name = spec["name"]
        seed = 1000 + i
        print(f"\n[{name}] seed {seed}: {peerlib.describe_spec(spec)}", flush=True)
        model_dir = work / name / "model"
        model = peerlib.random_smolvlm(spec, seed)
        model.save_pretrained(str(model_dir))
        del model
        batch = peerlib.smolvlm_batch(spec, seed + 1)
        inputs = work / name / "inputs.safetensors"
        peerlib.save_safetensors(batch, inputs)
        K = peerlib.tokens_per_image(spec)
        print(f"  batch {list(batch['input_ids'].shape)}, pixel_values {list(batch['pixel_values'].shape)}, "
              f"{int((batch['input_ids'] == peerlib.image_token_id(spec)).sum())} <image> tokens, "
              f"{int((batch['labels'][:, 1:] != -100).sum())} labelled, "
              f"{int((batch['attention_mask'] == 0).sum())} padding", flush=True)
        row = {"name": name}
        hf_eager = None
        for attn in ("eager", "sdpa"):
            ref, ref_grads, names = hf_run(model_dir, batch, attn, K)
            if attn == "eager":
                hf_eager = ref
            else:
                d = peerlib.max_abs(ref["logits"], hf_eager["logits"])
                print(f"  (for scale: transformers' own sdpa vs eager logits differ by {d:.2e})")
            out = work / name / f"prospect_{attn}.safetensors"
            try:
                peerlib.run_prospect(args.prospect, ["forward", "--model", model_dir, "--inputs", inputs,
                                                     "--out", out, "--grads", "--attention", attn])
            except peerlib.ProspectFailed as e:
                report.require(f"{name}/{attn} prospect forward runs", False, str(e))
                continue
            got = peerlib.load_safetensors(out)
            worst = compare(report, f"{name}/{attn}", ref, ref_grads, names, got)
            row[attn] = {k: peerlib.max_abs(got[k], ref[k]) if k in got and got[k].shape == ref[k].shape
                         else float("nan") for k in ("logits", "last_hidden_state", "image_hidden_states")}
            row[attn]["loss_rel"] = peerlib.rel_scalar(got["loss"], ref["loss"]) if "loss" in got else float("nan")
            row[attn]["grad"] = worst
            row["params"] = len(names)
        summary.append(row)
    print("\nsummary (max abs: logits / last hidden / image hidden; loss rel; worst grad rel-to-max):")
    for row in summary:
        for attn in ("eager", "sdpa"):
            r = row.get(attn)
            if r:
                print(f"  {row['name']:<16s} {attn:<5s} {r['logits']:.2e} / {r['last_hidden_state']:.2e} / "
                      f"{r['image_hidden_states']:.2e}; loss {r['loss_rel']:.2e}; grads {r['grad']:.2e} "
                      f"({row['params']} tensors)")
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
