"""Peers.profile_ops: the op-level profile comparison of issue 19. bench/compare_hf.py --profile DIR at the
tiny shape runs the timed training steps and the timed streamed frames of each side under the PyTorch (Kineto)
profiler — transformers with torch.profiler.profile, Prospect with `prospect bench --profile-trace FILE`
(libtorch's profiler from C++) — and bench/profile_ops.py sums self time per op. Checked, for the full and the
frozen-vision step and for the streamed frame (a stream_frame span per frame): both chrome traces parse, hold
one span per timed step or frame and hundreds of op events per step (dozens per frame), matrix-multiply ops
(aten::mm / addmm / bmm) with positive self time and calls on both sides, the fused AdamW kernel on both sides
(training), the patch-embedding convolution with positive self time on both sides (streaming), self times that
add up to the span (ops alone never more than it), a span no longer than the wall time the side measured for
that step or frame; the script's standalone command line prints the table and a JSON line (also on the stream
traces, which it recognises without --step) and refuses a file that is not a trace; and the self-time
arithmetic on a hand-made trace with known nesting. No timing ratio is checked.
"""
import json
import os
import subprocess
import sys
import time

from peerlib import Report, fail_now, finish, fresh_dir, parse_args

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import profile_ops  # noqa: E402

GEMM = ("aten::mm", "aten::addmm", "aten::bmm")
ITERS = 2  # timed (and profiled) steps per side and step kind
FRAMES = 4  # timed (and profiled) streamed frames per side


def synthetic_case(c, work):
    """Known nesting, two steps: step 1 [0, 100) holds A [10, 60) (holding B [20, 30) and C [40, 50)) and D
    [70, 90), and a second thread's E [5, 15); step 2 [200, 300) holds A [210, 250) holding B [220, 240);
    F at [150, 160), between the steps, counts for neither (times in microseconds after 1000)."""
    ev = [dict(ph="X", cat="user_annotation", name="train_step", pid=1, tid=1, ts=1000.0, dur=100.0),
          dict(ph="X", cat="cpu_op", name="A", pid=1, tid=1, ts=1010.0, dur=50.0),
          dict(ph="X", cat="cpu_op", name="B", pid=1, tid=1, ts=1020.0, dur=10.0),
          dict(ph="X", cat="cpu_op", name="C", pid=1, tid=1, ts=1040.0, dur=10.0),
          dict(ph="X", cat="cpu_op", name="D", pid=1, tid=1, ts=1070.0, dur=20.0),
          dict(ph="X", cat="cpu_op", name="E", pid=1, tid=2, ts=1005.0, dur=10.0),
          dict(ph="X", cat="cpu_op", name="F", pid=1, tid=1, ts=1150.0, dur=10.0),
          dict(ph="X", cat="user_annotation", name="train_step", pid=1, tid=1, ts=1200.0, dur=100.0),
          dict(ph="X", cat="cpu_op", name="A", pid=1, tid=1, ts=1210.0, dur=40.0),
          dict(ph="X", cat="cpu_op", name="B", pid=1, tid=1, ts=1220.0, dur=20.0),
          dict(ph="X", cat="Trace", name="PyTorch Profiler (0)", pid=1, tid=1, ts=0.0, dur=5000.0),
          dict(ph="i", name="marker", pid=1, tid=1, ts=1001.0)]
    path = os.path.join(work, "synthetic.json")
    with open(path, "w") as f:
        json.dump({"traceEvents": ev}, f)
    s = profile_ops.summarize(path)
    got = {k: round(v["self_ms"] * 1e3, 6) for k, v in s["ops"].items()}
    # per step: A (30 + 20) / 2, B (10 + 20) / 2, C 10 / 2, D 20 / 2, E 10 / 2, outside (30 + 60) / 2
    want = {"A": 25.0, "B": 15.0, "C": 5.0, "D": 10.0, "E": 5.0, "(outside ops)": 45.0}
    print(f"synthetic trace: self times (us) {got}")
    c.require(f"synthetic nesting gives the known self times {want}", got == want)
    c.require("synthetic: 2 steps of 100 us",
              abs(s["step_ms"] - 0.1) < 1e-9 and s["steps"] == 2 and s["step_name"] == "train_step")
    bad = os.path.join(work, "not_a_trace.json")
    with open(bad, "w") as f:
        f.write("{ this is not json")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "profile_ops.py"), bad, path],
                       capture_output=True, text=True)
    print(f"profile_ops.py on a broken file: exit {p.returncode}, {p.stderr.strip()}")
    c.require("a broken trace is refused (exit 1)", p.returncode == 1 and "not a readable JSON trace" in p.stderr)


def check_side(c, side, s, wall_s, steps, min_events=100, slack_ms=2.0, upper=True):
    ops = s["ops"]
    gemm = {k: ops[k] for k in GEMM if k in ops}
    gemm_ms = sum(v["self_ms"] for v in gemm.values())
    gemm_calls = sum(v["calls"] for v in gemm.values())
    print(f"  {side}: {s['steps']} steps '{s['step_name']}', span {s['step_ms']:.2f} ms (measured wall {1e3 * wall_s:.2f} ms), "
          f"{s['events']} op events, op self total {s['ops_total_ms']:.2f} ms, outside ops "
          f"{ops['(outside ops)']['self_ms']:.2f} ms; GEMM self {gemm_ms:.2f} ms in {gemm_calls} calls "
          + ", ".join(f"{k} {v['self_ms']:.2f} ms/{v['calls']}" for k, v in gemm.items()))
    c.require(f"{side}: {steps} profiled steps in the trace ({s['steps']})", s["steps"] == steps)
    c.require(f"{side}: at least {min_events} op events per step ({s['events']})", s["events"] >= min_events)
    c.require(f"{side}: matrix multiplies with positive self time", gemm_ms > 0 and gemm_calls > 0)
    c.require(f"{side}: aten::mm has positive self time", ops.get("aten::mm", {}).get("self_ms", 0) > 0)
    c.require(f"{side}: no negative self time", all(v["self_ms"] >= 0 for v in ops.values()))
    c.require(f"{side}: op self total {s['ops_total_ms']:.3f} ms <= step span {s['step_ms']:.3f} ms",
              s["ops_total_ms"] <= s["step_ms"] * (1 + 1e-6) + 1e-3)
    c.require(f"{side}: self times add up to the step span ({s['self_total_ms']:.3f} vs {s['step_ms']:.3f} ms)",
              abs(s["self_total_ms"] - s["step_ms"]) <= 0.01 * s["step_ms"] + 1e-3)
    # The span and the side's own clock are taken apart, and on a loaded box (load 3.9) spans ran 7-10 % over
    # the measured step: 1.5x still catches a span that holds two steps or the warm-up.
    c.require(f"{side}: step span {s['step_ms']:.2f} ms within the measured step wall time {1e3 * wall_s:.2f} ms "
              "(means per step)",
              (not upper or s["step_ms"] <= 1e3 * wall_s * 1.5 + slack_ms) and s["step_ms"] >= 0.5 * 1e3 * wall_s)


def main():
    a = parse_args(__doc__)
    started = time.time()
    work = fresh_dir(a.work)
    c = Report()
    synthetic_case(c, str(work))

    prof = os.path.join(work, "prof")
    out_json = os.path.join(work, "compare.jsonl")
    cmd = [sys.executable, os.path.join(ROOT, "bench", "compare_hf.py"), "--shapes", "tiny", "--threads", "1",
           "--reps", "1", "--iters", str(ITERS), "--warmup", "1", "--stream-frames", str(FRAMES),
           "--workloads", "train,stream", "--profile", prof,
           "--profile-top", "12", "--prospect", a.prospect, "--json-out", out_json]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        sys.stdout.write(p.stderr[-4000:])
        fail_now(f"compare_hf.py --profile exited {p.returncode}")
    recs = [json.loads(l) for l in open(out_json)]
    profs = {r["workload"]: r for r in recs if r.get("record") == "profile"}
    c.require(f"one profile record per step kind and one for the streamed frames ({sorted(profs)})",
              sorted(profs) == ["stream_frame", "train_step", "train_step_frozen_vision"])
    for fig, r in sorted(profs.items()):
        print(f"{fig}: transformers {r['traces'][0]} against Prospect {r['traces'][1]}")
        sides = []
        for i, side in enumerate(("transformers", "Prospect")):
            try:
                s = profile_ops.summarize(r["traces"][i], fig)
            except profile_ops.TraceError as e:
                c.require(f"{fig} {side}: trace parses ({e})", False)
                continue
            sides.append(s)
            if fig == "stream_frame":
                # a tiny frame takes about a millisecond, of the order of the profiler's own bookkeeping for its
                # ops, and on a loaded box one preempted frame in four made a side's mean span 28 ms against a
                # measured 6 ms: only the lower bound is checked for frames
                check_side(c, f"{fig} {side}", s, r["step_wall_s_mean"][i], FRAMES, min_events=50, upper=False)
                conv = sum(v["self_ms"] for k, v in s["ops"].items()
                           if profile_ops.family_of(k).startswith("convolution"))
                c.require(f"{fig} {side}: the patch-embedding convolution has positive self time ({conv:.3f} ms)",
                          conv > 0)
            else:
                check_side(c, f"{fig} {side}", s, r["step_wall_s_mean"][i], ITERS)
        if fig == "train_step" and len(sides) == 2:
            for side, s in zip(("transformers", "Prospect"), sides):
                c.require(f"{fig} {side}: the fused AdamW kernel ran in the step",
                          s["ops"].get("aten::_fused_adamw_", {}).get("calls", 0) >= 1)
            c.require(f"{fig}: the table is printed",
                      f"Per-op self time per step, tiny, 1 thread(s), {fig}" in p.stdout)
        if fig == "stream_frame":
            c.require(f"{fig}: the table is printed",
                      "Per-op self time per frame, tiny, 1 thread(s), stream_frame" in p.stdout)
    # the standalone command line on the two full-step traces and on the two stream traces (no --step: the
    # span name is found)
    for fig in ("train_step", "stream_frame"):
        if fig not in profs:
            continue
        r = profs[fig]
        cli = [sys.executable, os.path.join(ROOT, "bench", "profile_ops.py"), r["traces"][0], r["traces"][1],
               "--labels", "transformers,Prospect", "--top", "5"]
        print("$ " + " ".join(cli), flush=True)
        q = subprocess.run(cli, capture_output=True, text=True)
        sys.stdout.write(q.stdout)
        last = q.stdout.strip().splitlines()[-1] if q.stdout.strip() else ""
        ok = q.returncode == 0 and last.startswith("{") and json.loads(last).get("record") == "profile"
        c.require(f"profile_ops.py standalone on the {fig} traces: table and JSON line, spans '{fig}'",
                  ok and "total self time in ops" in q.stdout and json.loads(last).get("step") == fig)
    print(f"checked {c.count} properties of {2 * len(profs)} traces and one hand-made trace")
    if c.ok:
        print("PASS: both sides' op-level profiles are complete and consistent")
    sys.exit(finish(c, work, a.keep, started))


if __name__ == "__main__":
    main()
