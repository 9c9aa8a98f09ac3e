#!/usr/bin/env python3
"""Live check: a checkpoint `prospect train` writes for the features recipe (docs/FEATURES.md), with decisions
as tokens (docs/DECISIONS.md), is a working transformers model (CTest Peers.features_checkpoint).

`prospect synth --features` (K = 4 tokens of D = 64 per frame) writes a small dataset and the random
Llama-on-features model; `prospect train` runs 6 updates with model.decision = tokens. Then, in Python:
  1. LlamaForCausalLM.from_pretrained(checkpoint) loads with no missing and no unexpected tensors;
     load_projector(checkpoint) rebuilds the projector; prospect_config.json says "decision": "tokens" and no
     heads file was written.
  2. AutoTokenizer.from_pretrained(checkpoint) tokenizes the rendered text of a test clip (`prospect inspect
     --json`) into exactly `num_tokens` ids, with as many <image> placeholders as frames x K.
  3. transformers' logits over that clip (the frames' features from its features_file through the projector
     into the placeholders, merge_frame_features) equal `prospect forward`'s on the same ids and features
     (max abs error <= 1e-4), and the decision probabilities read at every frame block's last token (the
     softmax of the silent / DST / speak markers) are the same on both sides.
Prints what it compared; exit status 1 on any mismatch.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
import peerlib  # noqa: E402


def main():
    args, work, report, started = peerlib.begin_torch_check(__doc__, "a trained features checkpoint in transformers")
    import torch
    from prospect_heads import load_projector, merge_frame_features
    from safetensors import safe_open
    from transformers import AutoTokenizer, LlamaForCausalLM

    env = {"PROSPECT_THREADS": "1"}
    data = work / "data"
    peerlib.run_prospect(args.prospect, ["synth", "--out", data, "--train-videos", 6, "--val-videos", 1,
                                         "--test-videos", 1, "--features", "--feature-tokens", 4,
                                         "--feature-dim", 64], env=env)
    run = work / "run"
    peerlib.run_prospect(args.prospect, ["train", "--set", f"model.path={data / 'model-features'}",
                                         "--set", "model.decision=tokens", "--set", f"data.root={data}",
                                         "--set", "data.train=train.json", "--set", "data.max_seq_len=600",
                                         "--set", "train.max_steps=6", "--set", "train.save_every=6",
                                         "--set", f"train.run_dir={run}", "--set", "train.threads=1",
                                         "--set", "train.quiet=true", "--set", "optim.lr=3e-3"], env=env)
    ckpt = run / "checkpoints" / "checkpoint-6"

    # 1. Loading.
    model, info = LlamaForCausalLM.from_pretrained(str(ckpt), output_loading_info=True, dtype=torch.float32)
    model.eval()
    print(f"from_pretrained: {sum(p.numel() for p in model.parameters())} parameters, missing "
          f"{sorted(info['missing_keys'])}, unexpected {sorted(info['unexpected_keys'])}")
    report.require("no missing tensors", not info["missing_keys"], str(info["missing_keys"]))
    report.require("no unexpected tensors", not info["unexpected_keys"], str(info["unexpected_keys"]))
    proj = load_projector(str(ckpt))
    pc = json.loads((ckpt / "prospect_config.json").read_text())
    cfg = json.loads((ckpt / "config.json").read_text())
    report.require("prospect_config says decision tokens", pc.get("decision") == "tokens", str(pc))
    report.require("no heads file", not (ckpt / "prospect_heads.safetensors").exists())

    # 2. The tokenizer on a rendered clip.
    tok = AutoTokenizer.from_pretrained(str(ckpt))
    out = peerlib.run_prospect(args.prospect, ["inspect", "--data", data / "test.json", "--index", 0,
                                               "--tokenizer", ckpt / "tokenizer.json", "--image-seq-len", 4,
                                               "--max-seq-len", 0, "--neg-rate", 1, "--json"], env=env)
    clip = json.loads(out.splitlines()[0])
    sub = clip["sub_clips"][0]
    ids = tok(sub["text"], add_special_tokens=False)["input_ids"]
    image_id = cfg["prospect"]["image_token_id"]
    frames = list(range(sub["first_frame"], sub["last_frame"] + 1))
    n_img = sum(1 for i in ids if i == image_id)
    print(f"clip {clip['video_uid']}#{clip['clip_idx']}: {len(ids)} ids from AutoTokenizer, inspect says "
          f"{sub['num_tokens']}; {n_img} placeholders for {len(frames)} frames x K 4")
    report.require("AutoTokenizer gives inspect's token count", len(ids) == sub["num_tokens"])
    report.require("placeholders = frames x K", n_img == 4 * len(frames), f"{n_img} vs {4 * len(frames)}")

    # 3. Logits and decision probabilities, both sides.
    clips = json.loads((data / "test.json").read_text())
    features_file = data / clips[0]["features_file"]
    with safe_open(str(features_file), "pt") as f:
        feats_all, index = f.get_tensor("features").float(), f.get_tensor("frame_index").tolist()
    feats = feats_all[[index.index(fr) for fr in frames]]
    input_ids = torch.tensor([ids])
    inputs = work / "inputs.safetensors"
    peerlib.save_safetensors({"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                              "features": feats}, inputs)
    got_path = work / "prospect.safetensors"
    peerlib.run_prospect(args.prospect, ["forward", "--model", ckpt, "--inputs", inputs, "--out", got_path], env=env)
    got = peerlib.load_safetensors(got_path)
    with torch.no_grad():
        embeds = merge_frame_features(model, proj, input_ids, feats, image_id)
        ref = model(inputs_embeds=embeds).logits
    err = peerlib.max_abs(got["logits"], ref)
    report.check("logits over the rendered clip", err, 1e-4, f"{list(ref.shape)}")
    marks = {"silent": tok.convert_tokens_to_ids("<end_of_utterance>"),
             "dst": tok("DST_UPDATE:", add_special_tokens=False)["input_ids"][0],
             "speak": tok("Assistant:", add_special_tokens=False)["input_ids"][0]}
    fake = tok.convert_tokens_to_ids("<fake_token_around_image>")
    # A frame block ends with <fake_token_around_image> right after its last <image>.
    ends = [t for t in range(1, len(ids)) if ids[t] == fake and ids[t - 1] == image_id]
    p_ref = torch.softmax(ref[0, ends].float(), -1)[:, list(marks.values())]
    p_got = torch.softmax(got["logits"][0, ends].float(), -1)[:, list(marks.values())]
    perr = peerlib.max_abs(p_got, p_ref)
    print(f"markers {marks}; {len(ends)} frame blocks; mean p(silent, dst, speak) "
          f"{[round(x, 4) for x in p_ref.mean(0).tolist()]}")
    report.check("decision-marker probabilities at every frame block", perr, 1e-5)
    report.require("one decision position per frame", len(ends) == len(frames), f"{len(ends)} vs {len(frames)}")
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
