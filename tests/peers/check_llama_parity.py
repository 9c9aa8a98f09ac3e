#!/usr/bin/env python3
"""Peers.llama_parity: Prospect's llama_features model (frame features -> MLP projector -> Llama) against
transformers' LlamaForCausalLM, live, on random models made now.

For each configuration in CONFIGS (tied and untied embeddings, MHA / GQA / MQA, 1-3 layers, an explicit head_dim,
attention and MLP biases, plain RoPE and Llama 3's rope scaling with a small original_max_position_embeddings so
that the scaling moves every frequency the sequence uses, K = 1 and K = 4 tokens per frame, D != H):

  1. transformers makes LlamaForCausalLM with fixed-seed random weights (fp32) and saves it with save_pretrained;
     a PyTorch projector nn.Sequential(Linear(D, H), GELU(), Linear(H, H)) with random weights is saved beside it
     as prospect_projector.safetensors (projector.linear_1.*, projector.linear_2.*), and Prospect's keys
     (feature_dim, frame_tokens, image_token_id) go into config.json under "prospect" -- except for the
     configuration marked plain_dir, whose config.json stays transformers' own and whose keys are passed to
     `prospect forward` as --feature-dim / --frame-tokens / --image-token-id;
  2. a right-padded batch: input_ids with K placeholder tokens per frame, attention_mask, labels (-100 on the
     placeholders, the padding and half the text), features [n, K, D];
  3. transformers reloads the folder with eager and with sdpa attention; the projector outputs replace the
     placeholder embeddings in order (masked_scatter) and LlamaForCausalLM runs on inputs_embeds, forward +
     backward (its own mean CE over label tokens);
  4. `prospect forward --grads --attention eager|sdpa` runs the same on `features`, and the outputs are
     compared: logits, last hidden state, projector outputs (image_hidden_states): max abs error <= 1e-4; loss:
     relative error <= 1e-5; every parameter gradient (decoder and projector, attention biases included):
     max abs error / max |reference| <= 1e-4; the gradient names must equal transformers' named_parameters()
     plus the four projector tensors exactly.
  5. The reverse: `prospect forward --step ... --save-model DIR` (one AdamW update, so the weights are
     Prospect's own; sharded for some configurations) must give a folder that LlamaForCausalLM.from_pretrained
     loads with no missing, unexpected or mismatched keys and prospect_heads.load_projector rebuilds; its logits
     in transformers must equal `prospect forward` on that folder (max abs error <= 1e-4). A plain HF Llama
     folder without a projector file, loaded with the options, gets a random projector: saved, it must load
     the same way.
Tolerances are those of the fixture README. Exit status 1 on any mismatch.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
import peerlib  # noqa: E402

TOL_ACT = 1e-4
TOL_LOSS = 1e-5
TOL_GRAD = 1e-4
OUTPUT_KEYS = {"logits", "last_hidden_state", "image_hidden_states", "loss", "grad_norm", "speak_logits", "dst_logits"}
PROJECTOR_NAMES = ["projector.linear_1.weight", "projector.linear_1.bias", "projector.linear_2.weight",
                   "projector.linear_2.bias"]

LLAMA3 = "llama3"
CONFIGS = [
    # Llama 3.2's layout in miniature: GQA 4/2, tied, llama3 scaling (original 16 positions, factor 8), K = 1
    dict(name="gqa-tied-llama3-k1", hidden=64, inter=128, layers=2, heads=4, kv_heads=2, tied=True, rope=LLAMA3,
         theta=500000.0, factor=8.0, original=16, K=1, D=24, frames=(5, 3), shard=True),
    # MHA, untied, plain rope, one layer, K = 4
    dict(name="mha-untied-plain-k4", hidden=48, inter=96, layers=1, heads=4, kv_heads=4, tied=False, rope="default",
         theta=10000.0, K=4, D=40, frames=(2, 3)),
    # 3 layers, GQA 6/2 with head_dim 16 != 48 / 6, attention and MLP biases, llama3 (factor 32), K = 4, untied
    dict(name="gqa3-headdim-bias-llama3-k4", hidden=48, inter=80, layers=3, heads=6, kv_heads=2, head_dim=16,
         bias=True, tied=False, rope=LLAMA3, theta=500000.0, factor=32.0, original=12, low=1.0, high=3.0, K=4, D=36,
         frames=(3, 2)),
    # MQA 4/1, tied, llama3, K = 1: a plain HF directory (no "prospect" key), the keys come from the command line
    dict(name="mqa-tied-plaindir-k1", hidden=32, inter=64, layers=2, heads=4, kv_heads=1, tied=True, rope=LLAMA3,
         theta=500000.0, factor=16.0, original=20, K=1, D=20, frames=(6, 4), plain_dir=True),
]
VOCAB = 300


def image_id(spec):
    return VOCAB - 2


def llama_config(spec):
    from transformers import LlamaConfig

    rope = {"rope_type": "default", "rope_theta": spec["theta"]}
    if spec["rope"] == LLAMA3:
        rope = {"rope_type": "llama3", "rope_theta": spec["theta"], "factor": spec["factor"],
                "low_freq_factor": spec.get("low", 1.0), "high_freq_factor": spec.get("high", 4.0),
                "original_max_position_embeddings": spec["original"]}
    kw = dict(vocab_size=VOCAB, hidden_size=spec["hidden"], intermediate_size=spec["inter"],
              num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
              num_key_value_heads=spec["kv_heads"], rms_norm_eps=1e-5, rope_parameters=rope,
              max_position_embeddings=1024, hidden_act="silu", tie_word_embeddings=spec["tied"],
              attention_bias=spec.get("bias", False), mlp_bias=spec.get("bias", False), pad_token_id=0,
              bos_token_id=1, eos_token_id=2)
    if "head_dim" in spec:
        kw["head_dim"] = spec["head_dim"]
    return LlamaConfig(**kw)


def make_model_dir(spec, seed, model_dir):
    """Random LlamaForCausalLM + projector saved in Prospect's llama_features layout; returns the config dict."""
    import torch
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM._from_config(llama_config(spec), attn_implementation="eager").float().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g) if "norm" in name
                    else 0.08 * torch.randn(p.shape, generator=g))
    model.save_pretrained(str(model_dir))
    proj = torch.nn.Sequential(torch.nn.Linear(spec["D"], spec["hidden"]), torch.nn.GELU(),
                               torch.nn.Linear(spec["hidden"], spec["hidden"]))
    with torch.no_grad():
        for p in proj.parameters():
            p.copy_(0.15 * torch.randn(p.shape, generator=g))
    peerlib.save_safetensors({"projector.linear_1.weight": proj[0].weight, "projector.linear_1.bias": proj[0].bias,
                              "projector.linear_2.weight": proj[2].weight, "projector.linear_2.bias": proj[2].bias},
                             Path(model_dir) / "prospect_projector.safetensors")
    cfg_path = Path(model_dir) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if not spec.get("plain_dir"):
        cfg["prospect"] = {"family": "llama_features", "feature_dim": spec["D"], "frame_tokens": spec["K"],
                           "image_token_id": image_id(spec)}
        cfg_path.write_text(json.dumps(cfg, indent=2))
    return cfg


def feature_options(spec):
    if not spec.get("plain_dir"):
        return []
    return ["--feature-dim", spec["D"], "--frame-tokens", spec["K"], "--image-token-id", image_id(spec)]


def make_batch(spec, seed):
    """Right-padded batch: per sample some text, then per frame <frame> + K placeholders + 2 text tokens, then
    text; labels on about 60 % of the text after the first frame."""
    import torch

    g = torch.Generator().manual_seed(seed)
    img, frame_tok = image_id(spec), VOCAB - 1
    seqs, labs = [], []
    for b, n in enumerate(spec["frames"]):
        ids, lab = [], []

        def text(m, learn):
            for _ in range(m):
                t = int(torch.randint(3, VOCAB - 2, (1,), generator=g))
                ids.append(t)
                lab.append(t if learn and float(torch.rand((), generator=g)) < 0.6 else -100)

        text(8 - 3 * b, False)
        for _ in range(n):
            ids.append(frame_tok)
            lab.append(-100)
            ids.extend([img] * spec["K"])
            lab.extend([-100] * spec["K"])
            text(2, True)
        text(10, True)
        seqs.append(ids)
        labs.append(lab)
    T, B = max(len(s) for s in seqs), len(seqs)
    input_ids = torch.zeros(B, T, dtype=torch.long)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        n = len(seqs[b])
        input_ids[b, :n] = torch.tensor(seqs[b])
        attention_mask[b, :n] = 1
        labels[b, :n] = torch.tensor(labs[b])
    features = torch.randn(sum(spec["frames"]), spec["K"], spec["D"], generator=g)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "features": features}


def hf_run(model_dir, batch, attn, spec, backward=True):
    """transformers' forward (+ backward) with the projector outputs in the placeholder embeddings."""
    import torch
    from prospect_heads import load_projector, merge_frame_features
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(str(model_dir), attn_implementation=attn, dtype=torch.float32).eval()
    proj = load_projector(str(model_dir))
    captured = {}
    hook = model.model.norm.register_forward_hook(lambda m, i, o: captured.__setitem__("h", o))
    feats = proj(batch["features"])
    feats.retain_grad()
    ctx = torch.enable_grad() if backward else torch.no_grad()
    with ctx:
        embeds = merge_frame_features(model, lambda x: feats, batch["input_ids"], batch["features"], image_id(spec))
        out = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"], labels=batch["labels"],
                    return_dict=True)
    hook.remove()
    res = {"logits": out.logits.detach(), "last_hidden_state": captured["h"].detach(),
           "image_hidden_states": feats.detach(), "loss": out.loss.detach().reshape(1)}
    names = [n for n, _ in model.named_parameters()] + PROJECTOR_NAMES
    grads = {}
    if backward:
        out.loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        for n, p in zip(PROJECTOR_NAMES, [proj.linear_1.weight, proj.linear_1.bias, proj.linear_2.weight,
                                          proj.linear_2.bias]):
            grads[n] = p.grad.detach().clone()
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
                   f"{len(names)} HF + projector parameters, {len(got_names)} prospect gradients" +
                   (f"; missing {missing[:4]}" if missing else "") + (f"; extra {extra[:4]}" if extra else ""))
    worst, worst_name, over, proj_worst = 0.0, "", [], 0.0
    for n in names:
        if n not in got or n not in ref_grads:
            continue
        # (Unlike SmolVLM's check, the key bias gradient is not zero here: RoPE rotates the bias by the key's
        # position, so q . R(s) b differs along a softmax row. It is compared like every other gradient.)
        try:
            e = peerlib.rel_to_max(got[n], ref_grads[n])
        except ValueError as ex:
            report.require(f"{tag} gradient shape {n}", False, str(ex))
            continue
        if n.startswith("projector."):
            proj_worst = max(proj_worst, e)
        if not e <= TOL_GRAD:
            over.append(f"{n}: {e:.2e}")
        if worst == worst and not e <= worst:
            worst, worst_name = e, n
    report.check(f"{tag} gradients (worst of {len(names)})", worst, TOL_GRAD,
                 worst_name + f"; projector's worst {proj_worst:.2e}" +
                 (f"; over tolerance: {over[:6]}" if over else ""))
    return worst


def reverse(report, args, work, name, spec, model_dir, batch, inputs, src_opts, shard):
    """prospect saves (after one AdamW step); transformers + load_projector load it; logits must agree."""
    import torch
    from prospect_heads import load_projector
    from transformers import LlamaForCausalLM

    saved = work / name / "prospect_saved"
    cmd = ["forward", "--model", model_dir, "--inputs", inputs, "--out", work / name / "step.safetensors",
           "--step", "lr=1e-2,clip=0", "--save-model", saved] + src_opts
    if shard:
        cmd += ["--save-shard-bytes", 20000]
    peerlib.run_prospect(args.prospect, cmd)
    files = sorted(p.name for p in saved.iterdir())
    cfg = json.loads((saved / "config.json").read_text())
    report.require(f"{name} saved layout", "prospect_projector.safetensors" in files and
                   cfg.get("prospect", {}).get("frame_tokens") == spec["K"] and
                   cfg.get("architectures") == ["LlamaForCausalLM"] and
                   ((saved / "model.safetensors.index.json").exists() == bool(shard)),
                   f"files {files}; prospect key {cfg.get('prospect')}")
    model, info = LlamaForCausalLM.from_pretrained(str(saved), output_loading_info=True, dtype=torch.float32)
    bad = {k: v for k, v in info.items() if v}
    report.require(f"{name} from_pretrained(prospect's save): no missing/unexpected keys", not bad, str(bad or
                   f"{sum(1 for _ in model.parameters())} tensors, tied={model.config.tie_word_embeddings}"))
    report.require(f"{name} saved rope", model.config.rope_parameters.get("rope_type") == spec["rope"],
                   str(model.config.rope_parameters))
    del model
    ref, _, _ = hf_run(saved, batch, "eager", spec, backward=False)
    out = work / name / "saved_forward.safetensors"
    peerlib.run_prospect(args.prospect, ["forward", "--model", saved, "--inputs", inputs, "--out", out])
    got = peerlib.load_safetensors(out)
    err = peerlib.max_abs(got["logits"], ref["logits"])
    report.check(f"{name} prospect-saved: transformers vs prospect logits", err, TOL_ACT)
    before = peerlib.load_safetensors(work / name / "prospect_eager.safetensors")
    moved = peerlib.max_abs(got["logits"], before["logits"])
    report.require(f"{name} the saved weights are the updated ones", moved > 1e-3,
                   f"logits moved by {moved:.2e} after one AdamW step")
    proj = load_projector(str(saved))
    return err, sum(p.numel() for p in proj.parameters())


def random_projector_case(report, args, work, spec, batch_src):
    """A plain HF Llama folder with no projector file: loaded with the options it gets a random projector, which
    `--save-model` writes; transformers + load_projector must then reproduce Prospect's logits."""
    import shutil

    import torch
    from transformers import LlamaForCausalLM

    name = "random-projector"
    src = work / name / "hf_only"
    src.mkdir(parents=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(batch_src["dir"] / f, src / f)
    cfg = json.loads((src / "config.json").read_text())
    cfg.pop("prospect", None)
    (src / "config.json").write_text(json.dumps(cfg, indent=2))
    saved = work / name / "saved"
    inputs = batch_src["inputs"]
    opts = ["--feature-dim", spec["D"], "--frame-tokens", spec["K"], "--image-token-id", image_id(spec)]
    out1 = work / name / "first.safetensors"
    peerlib.run_prospect(args.prospect, ["forward", "--model", src, "--inputs", inputs, "--out", out1,
                                         "--save-model", saved] + opts)
    _, info = LlamaForCausalLM.from_pretrained(str(saved), output_loading_info=True, dtype=torch.float32)
    bad = {k: v for k, v in info.items() if v}
    report.require(f"{name} from_pretrained: no missing/unexpected keys", not bad, str(bad or "clean"))
    ref, _, _ = hf_run(saved, batch_src["batch"], "eager", spec, backward=False)
    got = peerlib.load_safetensors(out1)
    err = peerlib.max_abs(got["logits"], ref["logits"])
    report.check(f"{name} transformers (saved) vs prospect (random projector) logits", err, TOL_ACT)
    missing = []
    try:
        peerlib.run_prospect(args.prospect, ["forward", "--model", src, "--inputs", inputs, "--out",
                                             work / name / "noopts.safetensors"])
    except peerlib.ProspectFailed as e:
        missing.append(str(e))
    report.require(f"{name} without --image-token-id: a clear error", missing and "image_token_id" in missing[0],
                   missing[0][-160:] if missing else "prospect forward succeeded")
    return err


def rope_effect(model_dir, batch, spec):
    """For scale: how far transformers' own logits move when the llama3 scaling is switched off."""
    import torch
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    rp = dict(model.config.rope_parameters)
    plain = llama_config(dict(spec, rope="default"))
    other = LlamaForCausalLM._from_config(plain, attn_implementation="eager").float().eval()
    other.load_state_dict(model.state_dict(), strict=False)
    if spec["tied"]:
        other.tie_weights()
    ids = batch["input_ids"].clone()
    ids[ids == image_id(spec)] = 5
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=batch["attention_mask"]).logits
        b = other(input_ids=ids, attention_mask=batch["attention_mask"]).logits
    return peerlib.max_abs(a, b), rp


def main():
    args, work, report, started = peerlib.begin_torch_check(
        __doc__, f"{len(CONFIGS)} random llama_features configurations, eager and sdpa attention, and the reverse")
    summary = []
    random_src = None
    for i, spec in enumerate(CONFIGS):
        name = spec["name"]
        seed = 2000 + i
        print(f"\n[{name}] seed {seed}: hidden {spec['hidden']} x{spec['layers']} layers, heads "
              f"{spec['heads']}/{spec['kv_heads']} kv, head_dim {spec.get('head_dim', spec['hidden'] // spec['heads'])}, "
              f"rope {spec['rope']}" + (f" (factor {spec['factor']}, original {spec['original']})"
                                         if spec["rope"] == LLAMA3 else "") +
              f", {'tied' if spec['tied'] else 'untied'}, biases {spec.get('bias', False)}, K {spec['K']}, "
              f"D {spec['D']}, frames {list(spec['frames'])}" + (", plain HF dir" if spec.get("plain_dir") else ""),
              flush=True)
        model_dir = work / name / "model"
        make_model_dir(spec, seed, model_dir)
        batch = make_batch(spec, seed + 1)
        inputs = work / name / "inputs.safetensors"
        peerlib.save_safetensors(batch, inputs)
        T = batch["input_ids"].shape[1]
        print(f"  batch {list(batch['input_ids'].shape)}, features {list(batch['features'].shape)}, "
              f"{int((batch['input_ids'] == image_id(spec)).sum())} placeholders, "
              f"{int((batch['labels'][:, 1:] != -100).sum())} labelled, "
              f"{int((batch['attention_mask'] == 0).sum())} padding", flush=True)
        if spec["rope"] == LLAMA3:
            d, rp = rope_effect(model_dir, batch, spec)
            print(f"  (for scale: with {T} positions and original_max_position_embeddings {spec['original']}, "
                  f"transformers' logits move by {d:.2e} when the llama3 scaling is switched off)")
            report.require(f"{name} llama3 scaling matters here", d > 1e-3, f"{d:.2e}")
        row = {"name": name}
        for attn in ("eager", "sdpa"):
            ref, ref_grads, names = hf_run(model_dir, batch, attn, spec)
            out = work / name / f"prospect_{attn}.safetensors"
            try:
                peerlib.run_prospect(args.prospect, ["forward", "--model", model_dir, "--inputs", inputs, "--out",
                                                     out, "--grads", "--attention", attn] + feature_options(spec))
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
        try:
            row["reverse"], _ = reverse(report, args, work, name, spec, model_dir, batch, inputs,
                                        feature_options(spec), spec.get("shard", False))
        except peerlib.ProspectFailed as e:
            report.require(f"{name} reverse: prospect runs", False, str(e))
        if random_src is None and not spec.get("plain_dir"):
            random_src = (spec, {"dir": model_dir, "inputs": inputs, "batch": batch})
        summary.append(row)
    try:
        rnd = random_projector_case(report, args, work, random_src[0], random_src[1])
    except peerlib.ProspectFailed as e:
        report.require("random projector case runs", False, str(e))
        rnd = float("nan")
    print("\nsummary (max abs: logits / last hidden / projector out; loss rel; worst grad rel-to-max; reverse logits):")
    for row in summary:
        for attn in ("eager", "sdpa"):
            r = row.get(attn)
            if r:
                print(f"  {row['name']:<30s} {attn:<5s} {r['logits']:.2e} / {r['last_hidden_state']:.2e} / "
                      f"{r['image_hidden_states']:.2e}; loss {r['loss_rel']:.2e}; grads {r['grad']:.2e} "
                      f"({row['params']} tensors)" + (f"; reverse {row['reverse']:.2e}" if attn == "eager" and
                                                       "reverse" in row else ""))
    print(f"  random projector (plain HF dir + options, saved, reloaded): logits {rnd:.2e}")
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
