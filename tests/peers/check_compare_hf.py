"""Peers.compare_hf: bench/compare_hf.py (Prospect against transformers, side by side) runs end to end at the
tiny shape and its output is complete: the machine record (CPU, versions, load average), one comparison record
per workload (preprocessing, training step full and frozen vision, streaming p50 and p99, peak RSS of each side) with positive
absolute figures on both sides, a finite ratio, both sides doing the same work (sequence length, labelled
tokens, trainable parameters, streamed context), the end record, and the printed table. Timings are
benchmarks: no ratio is checked here.
"""
import json
import math
import os
import subprocess
import sys
import time

from peerlib import Report, fail_now, finish, fresh_dir, parse_args

EXPECTED = ["preprocess", "train_step", "train_step_frozen_vision", "peak_rss_train", "stream_frame_p50", "stream_frame_p99",
            "peak_rss_stream"]


def main():
    a = parse_args(__doc__)
    started = time.time()
    work = fresh_dir(a.work)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_json = os.path.join(work, "compare.jsonl")
    cmd = [sys.executable, os.path.join(root, "bench", "compare_hf.py"), "--shapes", "tiny", "--threads", "1",
           "--reps", "1", "--iters", "2", "--warmup", "1", "--stream-frames", "3", "--preprocess-batches", "2", "--prospect", a.prospect,
           "--json-out", out_json]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        sys.stdout.write(p.stderr[-4000:])
        fail_now(f"compare_hf.py exited {p.returncode}")
    recs = [json.loads(l) for l in open(out_json)]
    machine = [r for r in recs if r.get("record") == "machine"]
    end = [r for r in recs if r.get("record") == "end"]
    comp = {r["workload"]: r for r in recs if r.get("record") == "comparison"}
    rep = Report()
    if rep.require("one machine record", len(machine) == 1, f"{len(machine)} found"):
        m = machine[0]
        missing = [k for k in ("cpu", "cores", "torch", "transformers", "loadavg_start") if k not in m]
        rep.require("machine record complete", not missing, f"missing {missing}" if missing else "")
        print(f"machine: {m.get('cpu')}, {m.get('cores')} cores, torch {m.get('torch')}, "
              f"transformers {m.get('transformers')}, load {m.get('loadavg_start')}")
    rep.require("end record with the load average", len(end) == 1 and "loadavg_end" in end[0])
    for w in EXPECTED:
        r = comp.get(w)
        if not rep.require(f"{w}: record present", r is not None):
            continue
        ok_vals = all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k]) and r[k] > 0
                      for k in ("hf", "prospect", "ratio"))
        rep.require(f"{w}: figures finite and positive", ok_vals,
                    f"transformers {r.get('hf')} {r.get('unit')}, Prospect {r.get('prospect')}, "
                    f"ratio {r.get('ratio')}")
        work_keys = ("seq_len", "labelled_tokens", "params_trainable", "context_tokens_end")
        rep.require(f"{w}: both sides did the same work", r.get("same_work") is True,
                    str({k: r.get(k) for k in work_keys if k in r}))
        want_shape = "synth" if w == "preprocess" else "tiny"
        rep.require(f"{w}: shape {want_shape}, 1 thread", r.get("shape") == want_shape and r.get("threads") == 1,
                    f"got {r.get('shape')}/{r.get('threads')}")
        rep.require(f"{w}: row in the printed table", f" {w} " in p.stdout)
    extra = sorted(set(comp) - set(EXPECTED))
    rep.require("no unexpected workloads", not extra, f"{extra}" if extra else "")
    print(f"checked {len(EXPECTED)} workloads, {len(recs)} JSON lines")
    sys.exit(finish(rep, work, a.keep, started))


if __name__ == "__main__":
    main()
