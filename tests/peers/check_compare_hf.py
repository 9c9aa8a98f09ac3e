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

from peerlib import fail_now, finish, fresh_dir, parse_args

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
    problems = []
    if len(machine) != 1:
        problems.append(f"{len(machine)} machine records (1 expected)")
    else:
        m = machine[0]
        for k in ("cpu", "cores", "torch", "transformers", "loadavg_start"):
            if k not in m:
                problems.append(f"machine record lacks '{k}'")
        print(f"machine: {m.get('cpu')}, {m.get('cores')} cores, torch {m.get('torch')}, "
              f"transformers {m.get('transformers')}, load {m.get('loadavg_start')}")
    if len(end) != 1 or "loadavg_end" not in end[0]:
        problems.append("no end record with the load average")
    for w in EXPECTED:
        r = comp.get(w)
        if r is None:
            problems.append(f"no record for {w}")
            continue
        ok_vals = all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k]) and r[k] > 0
                      for k in ("hf", "prospect", "ratio"))
        print(f"{w:26} transformers {r.get('hf'):.6g} {r.get('unit')}, Prospect {r.get('prospect'):.6g}, "
              f"ratio {r.get('ratio'):.3f}, same work {r.get('same_work')}, shape {r.get('shape')}, "
              f"threads {r.get('threads')}")
        if not ok_vals:
            problems.append(f"{w}: a figure is missing, not finite or not positive")
        if r.get("same_work") is not True:
            problems.append(f"{w}: the two sides did different work ({ {k: r.get(k) for k in ('seq_len', 'labelled_tokens', 'params_trainable', 'context_tokens_end')} })")
        if r.get("shape") != ("synth" if w == "preprocess" else "tiny") or r.get("threads") != 1:
            problems.append(f"{w}: shape/threads {r.get('shape')}/{r.get('threads')} (tiny/1 expected)")
    for w in EXPECTED:
        if f" {w} " not in p.stdout:
            problems.append(f"the printed table has no row for {w}")
    extra = sorted(set(comp) - set(EXPECTED))
    if extra:
        problems.append(f"unexpected workloads {extra}")
    print(f"checked {len(EXPECTED)} workloads, {len(recs)} JSON lines, the table's {len(EXPECTED)} rows")
    if problems:
        for pr in problems:
            print("FAIL: " + pr)
        sys.exit(1)
    print("PASS: compare_hf.py output complete")

    class R:
        ok = True

        def exit_code(self):
            return 0

    sys.exit(finish(R(), work, a.keep, started))


if __name__ == "__main__":
    main()
