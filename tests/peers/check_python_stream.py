#!/usr/bin/env python3
"""The Python package's Stream gives the timeline of `prospect stream`, and evaluate the numbers of
`prospect eval`.

On a checkpoint of a short `prospect train` run over `prospect synth` data, with one compute thread both sides:
1. `prospect stream --timeline` over the test split vs prospect.Stream(...).run(clip) per clip: the same
   events (clip, frame, time, type, text, p); on_event hears every event as it happens, with the tracked state
   after it (Stream.state inside the callback agrees), and final_state is the last state heard. The same for a
   checkpoint that decides with marker tokens (model.decision = tokens).
2. Frames given from Python (numpy uint8 [F, H, W, 3], decoded by `prospect frames --dump --pixels`) give the
   same timeline as frames read from the clip's frames file, also pushed live one frame at a time
   (Stream.live(clip).push(picture) returns the events of that frame).
3. prospect.evaluate(test.json, events) equals `prospect eval --predictions --json` (every number), also for
   the built-in oracle (prospect.oracle_timeline vs `prospect eval --oracle --json`) and another window.
4. Bad input to Stream (a folder without heads, frames of the wrong dtype or shape) raises ProspectError.
"""
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import peerlib  # noqa: E402

TH_DST, TH_SPEAK = "0.3", "0.3"


def same_events(a, b):
    if len(a) != len(b):
        return False, f"{len(a)} vs {len(b)} events"
    worst = 0.0
    for x, y in zip(a, b):
        for k in ("clip", "video_uid", "clip_idx", "frame", "type", "text"):
            if x.get(k) != y.get(k):
                return False, f"{k}: {x.get(k)!r} vs {y.get(k)!r} at frame {x.get('frame')}"
        worst = max(worst, abs(x["time"] - y["time"]), abs(x["p"] - y["p"]))
    return worst <= 1e-9, f"{len(a)} events, max |time|/|p| difference {worst:.1e}"


def diff_numbers(a, b, path=""):
    """Paths where two JSON values differ (numbers beyond 1e-12)."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            out += diff_numbers(a.get(k), b.get(k), f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff_numbers(x, y, f"{path}[{i}]")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not (math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)):
            out.append(f"{path}: {a} vs {b}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")
    return out


def count_numbers(v):
    if isinstance(v, dict):
        return sum(count_numbers(x) for x in v.values())
    if isinstance(v, list):
        return sum(count_numbers(x) for x in v)
    return 1 if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


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
    import numpy as np

    rep = peerlib.Report()
    synth = peerlib.tiny_synth(args.prospect, work)
    _, ckpt = peerlib.tiny_train(args.prospect, work, "run", steps=4, validate=False)
    test = synth / "val.json"  # two videos
    timeline = work / "timeline.jsonl"
    peerlib.run_prospect(args.prospect, ["stream", "--model", ckpt, "--data", test, "--timeline", timeline,
                                         "--threshold-dst", TH_DST, "--threshold-speak", TH_SPEAK, "--threads", 1,
                                         "--quiet"])
    ref = [json.loads(line) for line in timeline.read_text().splitlines() if line.strip()]

    # 1. Stream vs prospect stream.
    stream = prospect.Stream(ckpt, threshold_dst=float(TH_DST), threshold_speak=float(TH_SPEAK), threads=1)
    print("  Stream: " + "; ".join(stream.notes))
    clips = prospect.read_clips(test)
    events, heard, states_ok, finals_ok = [], [], True, True
    results = []
    for i, clip in enumerate(clips):
        last_state = [clip.initial_state]

        def on_event(e, state):
            nonlocal states_ok
            heard.append(e)
            states_ok = states_ok and stream.state == state
            last_state[0] = state

        r = stream.run(clip, i, on_event=on_event)
        results.append(r)
        events += r["events"]
        finals_ok = finals_ok and r["final_state"] == last_state[0] and stream.state == r["final_state"]
    ok, detail = same_events(events, ref)
    rep.require("Stream events equal prospect stream --timeline", ok and len(ref) > 0,
                f"{len(clips)} clips; {detail}")
    rep.require("on_event heard every event as it happened", heard == events, f"{len(heard)} heard")
    rep.require("Stream.state in the callback is the state after the event", states_ok)
    rep.require("final_state is the last state heard", finals_ok,
                json.dumps(results[0]["final_state"]))

    # Decisions as tokens (docs/DECISIONS.md): a checkpoint without heads.
    _, tok_ckpt = peerlib.tiny_train(args.prospect, work, "tokens", steps=2, validate=False,
                                     sets=["model.decision=tokens"])
    tok_timeline = work / "timeline_tokens.jsonl"
    peerlib.run_prospect(args.prospect, ["stream", "--model", tok_ckpt, "--data", test, "--timeline", tok_timeline,
                                         "--threshold-dst", 0, "--threshold-speak", 0, "--threads", 1,
                                         "--quiet"])
    tok_ref = [json.loads(line) for line in tok_timeline.read_text().splitlines() if line.strip()]
    # Thresholds 0 (fire at every frame): a 2-step model's marker probabilities are about 1 / vocabulary.
    tok_stream = prospect.Stream(tok_ckpt, threshold_dst=0.0, threshold_speak=0.0, threads=1)
    tok_events = []
    for i, clip in enumerate(clips):
        tok_events += tok_stream.run(clip, i)["events"]
    ok, detail = same_events(tok_events, tok_ref)
    rep.require("decision tokens: Stream events equal prospect stream --timeline",
                ok and len(tok_ref) > 0 and tok_stream.options["decision"] == "tokens", f"{tok_stream.options['decision']}; {detail}")

    # Forced resets (docs/STREAMING.md §1): with min_reset_prob the Stream drops the resets the grammar forced
    # on the random model, as `prospect stream --min-reset-prob` does.
    def resets(events):
        return sum(1 for e in events if e.get("type") == "dst_update"
                   for item in e.get("text", "").split(",") if item.strip().endswith("->reset"))
    bar_timeline = work / "timeline_tokens_bar.jsonl"
    peerlib.run_prospect(args.prospect, ["stream", "--model", tok_ckpt, "--data", test, "--timeline", bar_timeline,
                                         "--threshold-dst", 0, "--threshold-speak", 0, "--threads", 1,
                                         "--min-reset-prob", 0.5, "--quiet"])
    bar_ref = [json.loads(line) for line in bar_timeline.read_text().splitlines() if line.strip()]
    bar_stream = prospect.Stream(tok_ckpt, threshold_dst=0.0, threshold_speak=0.0, threads=1, min_reset_prob=0.5)
    bar_events = []
    for i, clip in enumerate(clips):
        bar_events += bar_stream.run(clip, i)["events"]
    ok, detail = same_events(bar_events, bar_ref)
    rep.require("min_reset_prob: Stream events equal prospect stream --min-reset-prob, and no reset is left",
                ok and resets(tok_ref) > 0 and resets(bar_ref) == 0 and bar_stream.options["min_reset_prob"] == 0.5,
                f"resets without the bar {resets(tok_ref)}, with it {resets(bar_ref)}; {detail}")

    # 2. Frames from Python.
    clip = clips[0]
    frames_file = synth / clip.frames_file
    dump = work / "dump"
    peerlib.run_prospect(args.prospect, ["frames", "--file", frames_file, "--dump", dump, "--pixels"])
    raws = sorted(dump.glob("*.rgb"))
    side = int(round(math.sqrt(raws[0].stat().st_size / 3)))
    pictures = np.stack([np.frombuffer(p.read_bytes(), dtype=np.uint8).reshape(side, side, 3) for p in raws])
    table = pictures[clip.start_frame:]
    r_np = stream.run(clip, 0, frames=table)
    ok, detail = same_events(r_np["events"], results[0]["events"])
    rep.require("numpy frames give the frames file's timeline", ok,
                f"{len(raws)} frames {side}x{side}; {detail}")
    r_fn = stream.run(clip, 0, frames=lambda f: pictures[f])
    ok, detail = same_events(r_fn["events"], results[0]["events"])
    rep.require("a frames callable gives the same timeline", ok, detail)
    same_p = all(abs(a["p_dst"] - b["p_dst"]) <= 1e-9 and abs(a["p_speak"] - b["p_speak"]) <= 1e-9
                 for a, b in zip(r_np["decisions"], results[0]["decisions"]))
    rep.require("numpy frames give the same per-frame probabilities", same_p and
                len(r_np["decisions"]) == len(results[0]["decisions"]), f"{len(r_np['decisions'])} frames")

    # Live: one push per planned frame, events as they happen.
    live = stream.live(clip, 0)
    live_events, at_frame, pushes = [], True, 0
    for f in live.frames:
        got = live.push(pictures[f])
        pushes += 1
        at_frame = at_frame and all(e["frame"] == f for e in got)
        live_events += got
    r_live = live.close()
    ok, detail = same_events(live_events, results[0]["events"])
    rep.require("live push() per frame gives the same timeline, each event at the frame just pushed",
                ok and at_frame and r_live is not None and r_live["final_state"] == live.state,
                f"{pushes} pushes; {detail}")
    early = stream.live(clip, 0)
    early.push(pictures[early.frames[0]])
    rep.require("a live run closed early stops and returns None", early.close() is None)

    # 3. evaluate vs prospect eval.
    for label, extra, window in (("predictions", ["--predictions", timeline], (-2.5, 2.5)),
                                 ("predictions, window -0.5,0.5", ["--predictions", timeline, "--window=-0.5,0.5"], (-0.5, 0.5)),
                                 ("oracle", ["--oracle"], (-2.5, 2.5))):
        want = json.loads(peerlib.run_prospect(args.prospect, ["eval", "--data", test, "--json", *extra]))
        tl = prospect.oracle_timeline(test) if label == "oracle" else events
        got = prospect.evaluate(test, tl, window=window)
        diffs = diff_numbers(got, want)
        rep.require(f"evaluate ({label}) equals prospect eval --json", not diffs,
                    f"{count_numbers(want)} numbers; DST F1 {want['dst_transition']['f1']}, speaking F1 "
                    f"{want['speaking']['f1']}" + ("; " + "; ".join(diffs[:4]) if diffs else ""))
    got_file = prospect.evaluate(str(test), str(timeline))
    rep.require("evaluate reads a timeline file too", not diff_numbers(got_file, prospect.evaluate(test, events)))

    # 4. Bad input.
    def raises(what, fn, needle, exc=prospect.ProspectError):
        try:
            fn()
        except exc as e:
            rep.require(f"error: {what}", needle in str(e), str(e)[:160])
            return
        except BaseException as e:  # noqa: BLE001
            rep.require(f"error: {what}", False, f"{type(e).__name__}: {str(e)[:160]}")
            return
        rep.require(f"error: {what}", False, "nothing raised")

    raises("a folder without heads", lambda: prospect.Stream(synth), "prospect_heads.safetensors")
    raises("float frames", lambda: stream.run(clip, 0, frames=table.astype(np.float32)), "uint8")
    raises("frames without colour", lambda: stream.run(clip, 0, frames=table[..., 0]), "[H, W, 3]")
    bad_live = stream.live(clip, 0)
    raises("a live push of a float picture", lambda: bad_live.push(np.zeros((8, 8, 3), np.float32)), "uint8")
    bad_live.close()
    raises("too few frames (the array's own IndexError, through the engine)",
           lambda: stream.run(clip, 0, frames=table[:1]), "", IndexError)
    after = stream.run(clip, 0)
    rep.require("the Stream still works after the errors", same_events(after["events"], results[0]["events"])[0])
    return peerlib.finish(rep, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
