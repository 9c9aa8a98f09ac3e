#!/usr/bin/env python3
"""Peers.optimizer_step: one Prospect training update equals one torch.optim.AdamW step on the transformers model.

For each random SmolVLM in MODELS (transformers builds it now and saves it with save_pretrained), one right-padded
batch with images and labels, and each optimizer setting in SETTINGS:

  prospect: `prospect forward --grads --step lr=..,weight_decay=..,clip=..,beta1=..,beta2=..,eps=..,impl=..
            --save-params FILE`: its training loss with the LM term alone (lm_labels = labels, w_lm 1, no DST
            stream, heads out of the loss: next-token CE summed over label tokens / their count, the same mean
            transformers takes), backward, then the trainer's own AdamW::clip_grad_norm and AdamW::step, under each
            of its AdamW implementations (single, foreach, fused);
  torch:    SmolVLMForConditionalGeneration.from_pretrained -> its loss -> backward ->
            torch.nn.utils.clip_grad_norm_(all parameters, clip) -> torch.optim.AdamW(foreach=False) with two param
            groups: weight_decay on every name without "bias", "norm" or "embed", 0 on the others (the trainer's
            default optim.no_decay) -> step().

Two comparisons per run, each over every parameter tensor:
  end to end  torch's update from its own gradients vs Prospect's: loss and gradient norm before clipping
              (relative error <= 1e-5 each), then max |w_prospect - w_torch| / max |w_torch| <= 1e-5 per tensor;
  same grads  torch's clip_grad_norm_ + AdamW applied to Prospect's own (unclipped) gradients vs Prospect's
              update: the optimizer arithmetic alone, so also required to agree relative to the update itself:
              beyond two float32 roundings of the weight, max (|w_prospect - w_torch| - 2 ulp(w_torch)) /
              max |w_torch - w_before| <= 1e-4.
The end-to-end difference relative to the update is printed but not gated: at step 1 AdamW moves each weight by
about lr * g / (|g| + eps), so where |g| is near eps or near the gradients' rounding noise (~1e-7 of a tensor's
largest entry; the attention key biases' gradient is pure noise, zero in exact arithmetic) the update is decided
by rounding, in transformers too (its sdpa and eager gradients give updates that differ by ~1% of lr there).
Also checked: the parameter names and the decay / no-decay split, and that the step moved the weights.
Not seen by one step from zero moments: beta1 and beta2, which cancel exactly in its bias corrections (m_hat = g,
v_hat = g^2); tests/train/adamw_test.cpp follows five steps against libtorch's torch::optim::AdamW for those.
"""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peerlib  # noqa: E402

TOL_LOSS = 1e-5     # loss: relative error
TOL_NORM = 1e-5     # gradient norm before clipping: relative error
TOL_WEIGHT = 1e-5   # updated weights: max |diff| / max |w| per tensor
TOL_UPDATE = 1e-4   # same gradients: max (|diff| - 2 ulp(w)) / max |update| per tensor
NO_DECAY = ("bias", "norm", "embed")  # the trainer's default optim.no_decay
STEP_KEYS = ("lr", "weight_decay", "clip", "beta1", "beta2", "eps")

MODELS = [
    dict(name="s2-gqa-untied", rope_theta=100000.0, images=(3, 2)),
    dict(name="s3-mha-tied", image_size=36, scale_factor=3, v_hidden=36, v_heads=3, v_inter=72, hidden=48,
         inter=96, layers=2, heads=6, kv_heads=6, tied=True, rope_theta=10000.0, images=(1, 2, 1), batch=3),
]

SETTINGS = [
    # train.json's defaults (optim.lr 1e-5, betas 0.9 / 0.999, eps 1e-8, grad_clip 1) with weight decay on
    dict(name="train-defaults", lr=1e-5, weight_decay=0.1, clip=1.0, beta1=0.9, beta2=0.999, eps=1e-8),
    # a large step with eps comparable to the clipped gradient entries: the update depends on their size, hence on
    # the clipping coefficient (with eps 1e-8 it would be about lr * sign(g) and not see the clipping at all)
    dict(name="eps-sized", lr=2e-3, weight_decay=0.05, clip=0.5, beta1=0.8, beta2=0.99, eps=1e-3),
    # the usual fine-tuning numbers: the end-to-end comparison is decided by rounding here (see above)
    dict(name="finetune", lr=1e-3, weight_decay=0.1, clip=1.0, beta1=0.9, beta2=0.95, eps=1e-8, same_grads_only=True),
]
IMPLS = ["single", "foreach", "fused"]


def load_model(model_dir):
    import torch
    from transformers import SmolVLMForConditionalGeneration

    return SmolVLMForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation="eager",
                                                           dtype=torch.float32).eval()


def adamw_step(model, st):
    """torch's clip_grad_norm_ + AdamW (two groups) on the gradients the model holds: (norm, groups)."""
    import torch

    named = list(model.named_parameters())
    decay = [p for n, p in named if not any(s in n for s in NO_DECAY)]
    no_decay = [p for n, p in named if any(s in n for s in NO_DECAY)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": st["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=st["lr"], betas=(st["beta1"], st["beta2"]), eps=st["eps"], foreach=False)
    norm = torch.nn.utils.clip_grad_norm_([p for _, p in named], st["clip"])
    opt.step()
    return float(norm), (len(decay), len(no_decay))


def weights(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def compare_weights(new, ref, before):
    """Over ref's tensors: (worst max|d|/max|w|, its name, worst max(|d| - 2 ulp(w))/max|update|, largest update).
    The second allows two float32 roundings of the weight itself (at lr 1e-5 one ulp of a weight near 0.3 is
    0.3% of the update): beyond that, the updates must agree."""
    import torch

    worst_w, worst_name, worst_u, moved = 0.0, "", 0.0, 0.0
    for n in ref:
        w_err = peerlib.rel_to_max(new[n], ref[n])
        r = ref[n].float()
        ulp = torch.nextafter(r.abs(), torch.full_like(r, float("inf"))) - r.abs()
        upd = float((ref[n].double() - before[n].double()).abs().max())
        excess = float(((new[n].double() - r.double()).abs() - 2 * ulp.double()).clamp(min=0).max())
        u_err = excess / upd if upd > 0 else (0.0 if excess == 0 else float("inf"))
        moved = max(moved, upd)
        if not w_err <= worst_w:
            worst_w, worst_name = w_err, n
        worst_u = max(worst_u, u_err)
    return worst_w, worst_name, worst_u, moved


def main():
    args, work, report, started = peerlib.begin_torch_check(
        __doc__, f"{len(MODELS)} models x {len(SETTINGS)} settings x prospect AdamW {IMPLS}")
    lines = []
    for i, spec in enumerate(MODELS):
        name = spec["name"]
        seed = 2000 + i
        print(f"\n[{name}] seed {seed}: {peerlib.describe_spec(spec)}", flush=True)
        model_dir = work / name / "model"
        peerlib.random_smolvlm(spec, seed).save_pretrained(str(model_dir))
        batch = peerlib.smolvlm_batch(spec, seed + 1)
        inputs = work / name / "inputs.safetensors"
        peerlib.save_safetensors(batch, inputs)
        print(f"  batch {list(batch['input_ids'].shape)}, pixel_values {list(batch['pixel_values'].shape)}, "
              f"{int((batch['labels'][:, 1:] != -100).sum())} labelled tokens", flush=True)
        for st in SETTINGS:
            # torch end to end: its own loss and gradients
            model = load_model(model_dir)
            before = weights(model)
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                        pixel_values=batch["pixel_values"], labels=batch["labels"], return_dict=True)
            out.loss.backward()
            loss = float(out.loss)
            torch_grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
            norm, groups = adamw_step(model, st)
            after = weights(model)
            del model
            print(f"  [{st['name']}] torch: loss {loss:.7f}, grad norm {norm:.6f} (clip {st['clip']}), AdamW on "
                  f"{groups[0]} tensors with weight decay, {groups[1]} without; " +
                  ", ".join(f"{k} {st[k]:g}" for k in STEP_KEYS), flush=True)
            for impl in IMPLS:
                tag = f"{name}/{st['name']}/{impl}"
                step = ",".join(f"{k}={st[k]!r}" for k in STEP_KEYS) + f",impl={impl}"
                out_file = work / name / f"out_{st['name']}_{impl}.safetensors"
                params_file = work / name / f"params_{st['name']}_{impl}.safetensors"
                try:
                    stdout = peerlib.run_prospect(args.prospect, ["forward", "--model", model_dir, "--inputs", inputs,
                                                                  "--out", out_file, "--grads", "--step", step,
                                                                  "--save-params", params_file])
                except peerlib.ProspectFailed as e:
                    report.require(f"{tag} prospect forward --step runs", False, str(e))
                    continue
                got = peerlib.load_safetensors(out_file)
                new = peerlib.load_safetensors(params_file)
                m = re.search(r"on (\d+) tensors \((\d+) without\)", stdout)
                split = (int(m.group(1)), int(m.group(2))) if m else None
                report.require(f"{tag} decay / no-decay split", split == groups, f"prospect {split}, torch {groups}")
                if not report.require(f"{tag} parameter names", set(new) == set(after),
                                      f"{len(after)} torch, {len(new)} prospect"):
                    continue
                # same gradients: torch's optimizer on Prospect's unclipped gradients
                model = load_model(model_dir)
                for n, p in model.named_parameters():
                    p.grad = got[n].clone()
                norm_same, _ = adamw_step(model, st)
                same = weights(model)
                del model
                s_w, s_name, s_u, moved = compare_weights(new, same, before)
                report.require(f"{tag} the step moved the weights", moved > 0.5 * st["lr"],
                               f"max |update| {moved:.3e}, lr {st['lr']:g}")
                report.check(f"{tag} same grads: norm rel", peerlib.rel_scalar(got["grad_norm"], norm_same), TOL_NORM)
                report.check(f"{tag} same grads: max|d|/max|w|", s_w, TOL_WEIGHT, s_name)
                report.check(f"{tag} same grads: (max|d| - 2ulp)/max|upd|", s_u, TOL_UPDATE)
                # end to end
                e_w, e_name, e_u, _ = compare_weights(new, after, before)
                g_err = max(peerlib.rel_to_max(got[n], torch_grads[n]) for n in torch_grads
                            if not n.endswith("k_proj.bias"))
                e_loss = peerlib.rel_scalar(got["loss"], loss)
                e_norm = peerlib.rel_scalar(got["grad_norm"], norm)
                line = (f"  {tag:<38s} same grads: {s_w:.1e} of |w|, {s_u:.1e} of update; end to end: loss "
                        f"{e_loss:.1e}, norm {e_norm:.1e}, grads {g_err:.1e}, weights {e_w:.1e} of |w|, "
                        f"{e_u:.1e} of update")
                if not st.get("same_grads_only"):
                    report.check(f"{tag} end to end: loss rel", e_loss, TOL_LOSS)
                    report.check(f"{tag} end to end: grad norm rel", e_norm, TOL_NORM,
                                 f"{float(got['grad_norm']):.6f} vs {norm:.6f}")
                    report.check(f"{tag} end to end: max|d|/max|w|", e_w, TOL_WEIGHT,
                                 f"{e_name}; vs update {e_u:.1e} (not gated)")
                else:
                    line += " (end to end not gated)"
                lines.append(line)
    print("\nsummary (worst over tensors):")
    print("\n".join(lines))
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
