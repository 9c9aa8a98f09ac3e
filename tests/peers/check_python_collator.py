#!/usr/bin/env python3
"""The Python package's collator equals `prospect inspect --json`, and bad input raises prospect.ProspectError.

Runs the installed package (`pip install --no-build-isolation .`, scripts/build.sh) against the prospect binary:
1. On synthetic clips (`prospect synth`) and on the shared real samples (DST clip file and ProAssist JSONL with
   the SmolVLM2 tokenizer), with two settings of the data.* options (one splitting clips): per clip and sub-clip,
   the collator's token count, label counts (assistant and DST tokens), decision points and their 1/0 counts
   equal inspect's; input_ids decode to inspect's rendered text; the batch's `labels` equal input_ids wherever
   they are not -100 and count exactly the learned tokens; the decision positions/targets in the batch equal the
   rendered decision points; pixel_values have one real (non-zero) image per frame block.
2. A plain-Python labels builder (tests/peers/python_labels.py: HF `tokenizers` on the rendered text, labels
   from the message prefixes) gives the same input_ids and labels; with decisions as tokens, the marker targets
   it derives from the text equal the collator's decision_targets; for the llama_features family the batch's
   frame_features are the clips' feature-file rows (read with `safetensors`).
3. Bad input (a broken clip file, a missing model folder or tokenizer, a wrong item type, a bad timeline,
   frames of the wrong dtype) raises ProspectError/TypeError with Prospect's message, and the interpreter lives.
"""
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import peerlib  # noqa: E402
import python_labels  # noqa: E402


def import_prospect():
    try:
        import prospect
    except ImportError as e:
        peerlib.fail_now(f"the Python package is not installed in this venv ({e}): run "
                         "`.venv/bin/pip install --no-build-isolation .` (scripts/build.sh does)")
    return prospect


def inspect_json(args, data, tokenizer, k, max_seq_len, neg_rate):
    out = peerlib.run_prospect(args.prospect, ["inspect", "--data", data, "--tokenizer", tokenizer, "--json",
                                               "--image-seq-len", k, "--max-seq-len", max_seq_len,
                                               "--neg-rate", neg_rate])
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def compare_file(rep, prospect, tag, data, model_dir, tokenizer, args, max_seq_len, neg_rate, frames):
    import torch
    from tokenizers import Tokenizer as HFTokenizer

    collate = prospect.Collator(model_dir, tokenizer=tokenizer, max_seq_len=max_seq_len,
                                neg_frame_sampling_rate=neg_rate, load_frames=frames)
    ref = inspect_json(args, data, tokenizer, collate.image_seq_len, max_seq_len, neg_rate)
    clips = prospect.read_clips(data)
    rep.require(f"{tag}: clip count", len(clips) == len(ref), f"{len(clips)} vs inspect {len(ref)}")
    hf_tok = HFTokenizer.from_file(str(tokenizer))
    tok = collate.tokenizer
    bad = []
    n_sub = n_tok = n_lab = n_dec = 0
    same_builder = True
    for clip, r in zip(clips, ref):
        samples = collate.render(clip)
        if len(samples) != len(r["sub_clips"]):
            bad.append(f"clip {clip.index_in_file}: {len(samples)} sub-clips vs {len(r['sub_clips'])}")
            continue
        for s, rs in zip(samples, r["sub_clips"]):
            n_sub += 1
            got = dict(num_tokens=len(s["input_ids"]),
                       lm_tokens=sum(v != -100 for v in s["lm_labels"]),
                       dst_tokens=sum(v != -100 for v in s["dst_labels"]),
                       decision_points=len(s["decisions"]),
                       speak_pos=sum(d["speak"] == 1 for d in s["decisions"]),
                       speak_neg=sum(d["speak"] == 0 for d in s["decisions"]),
                       dst_pos=sum(d["dst_update"] == 1 for d in s["decisions"]),
                       dst_neg=sum(d["dst_update"] == 0 for d in s["decisions"]),
                       first_frame=s["first_frame"], last_frame=s["last_frame"])
            for key, v in got.items():
                if v != rs[key]:
                    bad.append(f"clip {clip.index_in_file}.{s['sub_clip']} {key}: {v} vs inspect {rs[key]}")
            if s["initial_state"] != rs["initial_state"]:
                bad.append(f"clip {clip.index_in_file}.{s['sub_clip']} initial_state differs")
            if tok.decode(s["input_ids"]) != rs["text"]:
                bad.append(f"clip {clip.index_in_file}.{s['sub_clip']}: input_ids do not decode to inspect's text")
            n_tok += got["num_tokens"]
            n_lab += got["lm_tokens"] + got["dst_tokens"]
            n_dec += got["decision_points"]
            # The plain-Python builder on inspect's text.
            ids, labels = python_labels.build(hf_tok, rs["text"])
            merged = [a if a != -100 else b for a, b in zip(s["lm_labels"], s["dst_labels"])]
            if ids != s["input_ids"] or labels != merged:
                same_builder = False
                bad.append(f"clip {clip.index_in_file}.{s['sub_clip']}: the plain-Python builder differs "
                           f"(ids equal: {ids == s['input_ids']}, labels equal: {labels == merged})")
    rep.require(f"{tag}: every sub-clip equals inspect --json", not bad,
                f"{len(clips)} clips, {n_sub} sub-clips, {n_tok} tokens, {n_lab} labelled, {n_dec} decision points"
                + ("; " + "; ".join(bad[:5]) if bad else ""))
    rep.require(f"{tag}: plain-Python labels builder gives the same ids and labels", same_builder)

    # The batch as a model takes it.
    batch = collate(clips[: min(3, len(clips))])
    rows = []
    for c in clips[: min(3, len(clips))]:
        rows.extend(collate.render(c))
    B, T = batch["input_ids"].shape
    lab = batch["labels"]
    m = lab != -100
    rep.require(f"{tag}: batch shape", B == len(rows) and T == max(len(r["input_ids"]) for r in rows),
                f"[{B}, {T}] for {len(rows)} rows")
    rep.require(f"{tag}: labels are input_ids where learned", bool((lab[m] == batch["input_ids"][m]).all()),
                f"{int(m.sum())} labelled")
    n_learned = sum(sum(a != -100 or b != -100 for a, b in zip(r["lm_labels"], r["dst_labels"])) for r in rows)
    rep.require(f"{tag}: labels count the learned tokens", int(m.sum()) == n_learned, f"{int(m.sum())} vs {n_learned}")
    want_speak = [(b, d["speak_position"], d["speak"]) for b, r in enumerate(rows) for d in r["decisions"]]
    got_speak = [(int(p[0]), int(p[1]), int(t)) for p, t in zip(batch["speak_positions"], batch["speak_targets"])]
    rep.require(f"{tag}: speak positions and targets", got_speak == want_speak, f"{len(got_speak)} points")
    want_dst = [(b, d["position"], d["dst_update"]) for b, r in enumerate(rows) for d in r["decisions"]
                if d["dst_update"] != -100]
    got_dst = [(int(p[0]), int(p[1]), int(t)) for p, t in zip(batch["dst_positions"], batch["dst_targets"])]
    rep.require(f"{tag}: DST-update positions and targets", got_dst == want_dst, f"{len(got_dst)} points")
    mask_ok = all(int(batch["attention_mask"][b].sum()) == len(r["input_ids"]) for b, r in enumerate(rows))
    rep.require(f"{tag}: attention_mask covers each row", mask_ok)
    if frames:
        px = batch["pixel_values"]
        real = (px.flatten(2) != 0).any(-1)
        blocks = [len(r["frames"]) for r in rows]
        rep.require(f"{tag}: pixel_values [B, N, 3, S, S], one real image per frame block",
                    px.dim() == 5 and real.sum(1).tolist() == blocks and px.dtype == torch.float32,
                    f"{tuple(px.shape)}, frame blocks {blocks}")
    return collate


def check_decision_tokens(rep, prospect, tag, data, model_dir, tokenizer):
    from tokenizers import Tokenizer as HFTokenizer

    collate = prospect.Collator(model_dir, tokenizer=tokenizer, max_seq_len=512, neg_frame_sampling_rate=1.0,
                                decision="tokens", load_frames=False)
    hf_tok = HFTokenizer.from_file(str(tokenizer))
    clips = prospect.read_clips(data)
    marks = python_labels.markers(hf_tok)
    bad, n = [], 0
    for clip in clips:
        for s in collate.render(clip):
            want = python_labels.decision_targets(s["input_ids"], s["decisions"], marks)
            got = {i: t for i, t in enumerate(s["decision_targets"]) if t != -100}
            n += len(got)
            if got != want:
                bad.append(f"clip {clip.index_in_file}.{s['sub_clip']}: {len(got)} targets vs {len(want)}")
    batch = collate(clips[:2])
    have = all(k in batch for k in ("decision_targets", "speak_target_ids", "dst_target_ids"))
    rep.require(f"{tag}: decision_targets equal the markers after each decision point", not bad and n > 0,
                f"{n} targets, markers {marks}" + ("; " + "; ".join(bad[:3]) if bad else ""))
    rep.require(f"{tag}: batch carries decision_targets, speak/dst target ids", have,
                ", ".join(k for k in batch if "target" in k))


def check_features(rep, prospect, args, work):
    """The llama_features family: the batch's frame_features are the clips' feature-file rows, in order."""
    from safetensors.torch import load_file

    out = work / "synth_features"
    peerlib.run_prospect(args.prospect, ["synth", "--out", out, "--train-videos", 2, "--val-videos", 1,
                                         "--test-videos", 1, "--features", "--feature-tokens", 4],
                         env={"PROSPECT_THREADS": "1"})
    collate = prospect.Collator(out / "model-features", frames_root=out, max_seq_len=4096)
    clips = prospect.read_clips(out / "train.json")[:3]
    batch = collate(clips)
    want = []
    for c in clips:
        f = load_file(str(out / c.features_file))
        row = {int(v): i for i, v in enumerate(f["frame_index"])}
        for s in collate.render(c):
            want += [f["features"][row[fr]].float() for fr in s["frames"]]
    import torch

    got = batch.get("frame_features")
    ok = got is not None and "pixel_values" not in batch and tuple(got.shape) == (len(want),) + tuple(want[0].shape)
    err = peerlib.max_abs(got, torch.stack(want)) if ok else float("inf")
    rep.check("llama_features: frame_features are the feature files' rows", err, 0.0,
              f"{tuple(got.shape) if got is not None else None} for {len(want)} frame blocks, K {collate.image_seq_len}")


def check_errors(rep, prospect, work, model_dir, tokenizer, synth):
    import numpy as np

    def raises(what, fn, exc, needle):
        try:
            fn()
        except exc as e:
            msg = str(e)
            ok = needle in msg
            rep.require(f"error: {what}", ok, f"{type(e).__name__}: {msg[:160]}")
            return
        except BaseException as e:  # noqa: BLE001
            rep.require(f"error: {what}", False, f"raised {type(e).__name__} instead: {str(e)[:160]}")
            return
        rep.require(f"error: {what}", False, "nothing raised")

    broken = work / "broken.json"
    clip = json.loads((synth / "test.json").read_text())[0]
    bad_clip = dict(clip)
    del bad_clip["fps"]  # a required field
    broken.write_text(json.dumps([clip, bad_clip]))
    raises("a missing field names file, clip and field", lambda: prospect.read_clips(str(broken)),
           prospect.ProspectError, "fps")
    raises("truncated JSON", lambda: prospect.read_clips_from_string("[{\"video_uid\": ", "cut.json"),
           prospect.ProspectError, "cut.json")
    raises("a missing clip file", lambda: prospect.read_clips(str(work / "nope.json")),
           prospect.ProspectError, "nope.json")
    raises("a missing model folder", lambda: prospect.Collator(work / "no_model"), prospect.ProspectError,
           "no_model")
    raises("a missing tokenizer", lambda: prospect.Tokenizer(str(work / "tok.json")), prospect.ProspectError,
           "tok.json")
    raises("a tokenizer without the chat tokens",
           lambda: prospect.Collator(model_dir, tokenizer=_plain_tokenizer(work)), prospect.ProspectError, "")
    collate = prospect.Collator(model_dir, tokenizer=tokenizer, load_frames=False)
    raises("a wrong item type", lambda: collate([1, 2]), TypeError, "prospect.Clip")
    raises("an empty batch", lambda: collate([]), prospect.ProspectError, "no items")
    clips = prospect.read_clips(str(synth / "test.json"))
    frames_collate = prospect.Collator(model_dir, tokenizer=tokenizer, frames_root=work / "no_frames")
    raises("frames missing under frames_root", lambda: frames_collate(clips[:1]), prospect.ProspectError,
           "frames_file")
    raises("a sub-clip the options do not make", lambda: collate([prospect.SubClip(clips[0], 7)]),
           prospect.ProspectError, "sub-clip 7")
    raises("a timeline naming an unknown clip",
           lambda: prospect.evaluate(clips, [{"clip": 99, "frame": 0, "type": "speak", "text": "x"}]),
           prospect.ProspectError, "<timeline>")
    report = prospect.validate(str(broken))
    rep.require("validate reports the bad record instead of raising",
                not report["ok"] and len(report["errors"]) == 1 and report["clips"] == 1,
                f"ok={report['ok']}, {report['clips']} clips, errors: {report['errors'][0][:120]!r}")
    rep.require("the interpreter is still alive", np.zeros(1).sum() == 0)


def _plain_tokenizer(work):
    """A tokenizer.json without Prospect's special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    t = Tokenizer(models.BPE(vocab={"a": 0, "b": 1}, merges=[]))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    p = work / "plain_tokenizer.json"
    t.save(str(p))
    return str(p)


def main():
    args = peerlib.parse_args(__doc__.splitlines()[0])
    started = time.time()
    work = peerlib.fresh_dir(args.work)
    prospect = import_prospect()
    import torch

    print(f"prospect {prospect.__version__} from {Path(prospect.__file__).parent}, torch {torch.__version__}")
    rep = peerlib.Report()
    synth = peerlib.tiny_synth(args.prospect, work)
    model_dir = synth / "model"
    tokenizer = model_dir / "tokenizer.json"
    compare_file(rep, prospect, "synth test split", str(synth / "test.json"), model_dir, tokenizer, args,
                 4096, 1.0, True)
    compare_file(rep, prospect, "synth train split, max_seq_len 300, rho 0.3", str(synth / "train.json"),
                 model_dir, tokenizer, args, 300, 0.3, True)
    samples = Path(args.testdata) / "data" / "prospect-sample"
    smol_tok = Path(args.testdata) / "fixtures" / "smolvlm2-tokenizer" / "tokenizer.json"
    for name in ("dst_clip_assembly101.json", "proassist_prepared_assembly101.jsonl"):
        for max_len, rho in ((4096, 1.0), (1500, 0.5)):
            compare_file(rep, prospect, f"{name} max_seq_len {max_len} rho {rho}", str(samples / name), model_dir,
                         smol_tok, args, max_len, rho, False)
    check_decision_tokens(rep, prospect, "synth decision tokens", str(synth / "train.json"), model_dir, tokenizer)
    check_decision_tokens(rep, prospect, "shared DST sample decision tokens",
                          str(samples / "dst_clip_assembly101.json"), model_dir, smol_tok)
    check_features(rep, prospect, args, work)
    check_errors(rep, prospect, work, model_dir, tokenizer, synth)
    return peerlib.finish(rep, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
