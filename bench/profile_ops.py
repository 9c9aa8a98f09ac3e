#!/usr/bin/env python3
"""Per-op self time of two PyTorch-profiler chrome traces, side by side (issue 19).

    python bench/profile_ops.py A.json B.json [--labels transformers,Prospect] [--top 25] [--step NAME]

Each trace holds training steps or streamed frames recorded with the PyTorch (Kineto) profiler, CPU activity
only: on the transformers side torch.profiler.profile(...).export_chrome_trace, on Prospect's `prospect bench
--profile-trace FILE` (bench/compare_hf.py --profile DIR writes both). The steps are the user-annotation spans
named --step (default: named like the longest span whose name starts with "train_step" or "stream_frame";
else the longest top-level span alone); only the events inside them count, and every figure is a mean per
step (per frame).

Self time: the "X" (complete) events of one thread nest (an aten::linear holds its aten::addmm, an autograd
node its aten::mm); an event's self time is its duration minus its direct children's. Summed per op name (the
step span's own self time is the time inside the step that no op covers: Python, the profiler, the rest).
So per trace the self times add up to the step's span (one thread; a step on several threads adds more). Prints a table (op, self ms and calls on each side,
B - A), totals, the same by op family (GEMM, attention, optimizer, ...), and one JSON line at the end.

Standard library only: no torch needed to read the traces.
"""
import argparse
import bisect
import json
import sys
from collections import defaultdict

# Op families for the coarse table, first match wins (prefix or exact name).
FAMILIES = [
    ("GEMM (mm, addmm, bmm, matmul, linear)", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm",
                                                "aten::matmul", "aten::linear", "aten::addmv", "aten::mv")),
    ("attention (SDPA and its backward)", ("aten::scaled_dot_product_attention", "aten::_scaled_dot_product",
                                           "aten::_flash_attention", "aten::_efficient_attention",
                                           "ScaledDotProduct", "aten::softmax", "aten::_softmax")),
    ("optimizer (AdamW, grad clipping)", ("aten::_fused_adamw", "aten::_foreach_", "Optimizer.", "aten::addcdiv",
                                          "aten::lerp", "aten::linalg_vector_norm", "aten::norm",
                                          "aten::clamp", "aten::_fused_adam")),
    ("embedding and its gradient", ("aten::embedding", "EmbeddingBackward", "aten::index_add",
                                    "aten::_embedding_bag", "aten::index_put", "aten::_index_put")),
    ("copies and layout (copy_, clone, contiguous, cat, to)", ("aten::copy_", "aten::clone", "aten::contiguous",
                                                               "aten::cat", "aten::to", "aten::_to_copy",
                                                               "aten::stack", "aten::_reshape_alias",
                                                               "aten::reshape", "aten::unfold")),
    ("allocation and zeroing", ("aten::empty", "aten::zeros", "aten::zero_", "aten::fill_", "aten::ones",
                                "aten::full", "aten::new_", "aten::resize_")),
    ("convolution (patch embedding)", ("aten::conv", "aten::_convolution", "aten::convolution",
                                       "aten::mkldnn_convolution", "ConvolutionBackward", "aten::_slow_conv")),
    ("loss (log_softmax, nll)", ("aten::cross_entropy", "aten::log_softmax", "aten::_log_softmax",
                                 "aten::nll_loss", "LogSoftmaxBackward", "NllLossBackward")),
    ("autograd engine and nodes", ("autograd::", "torch::autograd::", "AccumulateGrad")),
    ("step span outside any op", ("(outside ops)",)),
]


def family_of(name):
    for fam, keys in FAMILIES:
        for k in keys:
            if name == k or name.startswith(k):
                return fam
    if name.endswith("Backward0") or name.endswith("Backward1"):
        return "other autograd backward nodes"
    return "elementwise and other"


class TraceError(ValueError):
    """A trace that cannot be read or holds no step."""


def load_events(path):
    """The complete ("X") events of a chrome trace, without Kineto's whole-trace span."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise TraceError(f"{path}: not a readable JSON trace ({e})")
    evs = d.get("traceEvents") if isinstance(d, dict) else d
    if not isinstance(evs, list):
        raise TraceError(f"{path}: no traceEvents list")
    out = []
    for e in evs:
        if not isinstance(e, dict) or e.get("ph") != "X" or e.get("cat") == "Trace":
            continue
        try:
            out.append({"name": str(e["name"]), "cat": e.get("cat", ""), "tid": (e.get("pid"), e.get("tid")),
                        "ts": float(e["ts"]), "dur": max(0.0, float(e.get("dur", 0.0)))})
        except (KeyError, TypeError, ValueError):
            continue
    if not out:
        raise TraceError(f"{path}: no complete ('X') events")
    return out


def assign_self_times(events):
    """Sets e['self'] (microseconds) on every event: its duration minus its direct children's on its thread.
    Children are the events that start inside it; a child that ends a little after its parent (timestamp
    rounding) is clipped to the parent's end."""
    by_thread = defaultdict(list)
    for e in events:
        e["self"] = e["dur"]
        e["parent"] = None
        by_thread[e["tid"]].append(e)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            while stack and e["ts"] >= stack[-1]["ts"] + stack[-1]["dur"]:
                stack.pop()
            if stack:
                p = stack[-1]
                e["parent"] = p
                p["self"] -= min(e["dur"], p["ts"] + p["dur"] - e["ts"])
            stack.append(e)
    for e in events:
        e["self"] = max(0.0, e["self"])
    return events


STEP_PREFIXES = ("train_step", "stream_frame")  # the spans of `prospect bench --profile-trace` and compare_hf.py


def pick_steps(events, step=None, path="trace"):
    """The step spans: every event named `step`, or every user annotation named like the longest one whose
    name starts with "train_step" or "stream_frame", or else the longest top-level event alone. Sorted by
    start."""
    if not step:
        cands = [e for e in events if e["cat"] == "user_annotation" and e["name"].startswith(STEP_PREFIXES)]
        if not cands:
            return [max((e for e in events if e["parent"] is None), key=lambda e: e["dur"])]
        step = max(cands, key=lambda e: e["dur"])["name"]
    spans = sorted((e for e in events if e["name"] == step), key=lambda e: e["ts"])
    if not spans:
        raise TraceError(f"{path}: no span named '{step}'")
    return spans


def summarize(path, step=None):
    """Per-op self time and calls per step of one trace, averaged over its step spans:
    {"trace", "step_name", "steps", "step_ms", "ops": {name: {"self_ms", "calls"}}, "ops_total_ms",
     "self_total_ms", "events"} (all per step). The spans' own self time is the op '(outside ops)'."""
    events = assign_self_times(load_events(path))
    spans = pick_steps(events, step, path)
    starts = [s["ts"] for s in spans]
    span_ids = {id(s) for s in spans}
    n = len(spans)
    ops = defaultdict(lambda: {"self_ms": 0.0, "calls": 0})
    count = 0
    for e in events:
        if id(e) in span_ids:
            continue
        k = bisect.bisect_right(starts, e["ts"]) - 1  # the last span starting at or before the event
        if k < 0 or e["ts"] >= spans[k]["ts"] + spans[k]["dur"]:
            continue
        count += 1
        o = ops[e["name"]]
        o["self_ms"] += e["self"] / 1e3
        o["calls"] += 1
    ops["(outside ops)"] = {"self_ms": sum(s["self"] for s in spans) / 1e3, "calls": n}
    per_step = {k: {"self_ms": v["self_ms"] / n, "calls": round(v["calls"] / n, 2)} for k, v in ops.items()}
    for v in per_step.values():
        if float(v["calls"]).is_integer():
            v["calls"] = int(v["calls"])
    ops_total = sum(v["self_ms"] for k, v in per_step.items() if k != "(outside ops)")
    return {"trace": path, "step_name": spans[0]["name"], "steps": n,
            "step_ms": sum(s["dur"] for s in spans) / 1e3 / n, "ops": per_step, "ops_total_ms": ops_total,
            "self_total_ms": ops_total + per_step["(outside ops)"]["self_ms"], "events": round(count / n)}


def families(summary):
    fam = defaultdict(lambda: {"self_ms": 0.0, "calls": 0})
    for name, v in summary["ops"].items():
        f = fam[family_of(name)]
        f["self_ms"] += v["self_ms"]
        f["calls"] += v["calls"]
    for f in fam.values():
        f["calls"] = round(f["calls"]) if abs(f["calls"] - round(f["calls"])) < 1e-6 else round(f["calls"], 2)
    return dict(fam)


def compare(a, b, top=25):
    """Rows (name, a, b) over the union of op names, largest self time on either side first."""
    names = set(a["ops"]) | set(b["ops"])
    zero = {"self_ms": 0.0, "calls": 0}
    rows = [(n, a["ops"].get(n, zero), b["ops"].get(n, zero)) for n in names]
    rows.sort(key=lambda r: -max(r[1]["self_ms"], r[2]["self_ms"]))
    return rows[:top] if top else rows


def short(name, width):
    return name if len(name) <= width else name[:width - 1] + "…"


def format_table(a, b, labels=("A", "B"), top=25, width=58):
    la, lb = labels
    lines = [f"per step, diff = {lb} - {la}; step '{a['step_name']}': {la} {a['step_ms']:.1f} ms ({a['steps']} "
             f"steps, {a['events']} op events each, {a['trace']}); {lb} {b['step_ms']:.1f} ms ({b['steps']} steps, "
             f"{b['events']} op events each, {b['trace']})",
             f"{'op (self time)':{width}} {la + ' ms':>14} {'calls':>6} {lb + ' ms':>14} {'calls':>6} "
             f"{'diff':>12}"]
    for n, x, y in compare(a, b, top):
        lines.append(f"{short(n, width):{width}} {x['self_ms']:14.2f} {x['calls']:>6} {y['self_ms']:14.2f} "
                     f"{y['calls']:>6} {y['self_ms'] - x['self_ms']:+12.2f}")
    lines.append(f"{'total self time in ops':{width}} {a['ops_total_ms']:14.2f} {'':6} {b['ops_total_ms']:14.2f} "
                 f"{'':6} {b['ops_total_ms'] - a['ops_total_ms']:+12.2f}")
    lines.append(f"{'step span (ops + outside ops)':{width}} {a['step_ms']:14.2f} {'':6} {b['step_ms']:14.2f} "
                 f"{'':6} {b['step_ms'] - a['step_ms']:+12.2f}")
    fa, fb = families(a), families(b)
    lines.append("")
    lines.append(f"{'by family':{width}} {la + ' ms':>14} {'calls':>6} {lb + ' ms':>14} {'calls':>6} "
                 f"{'diff':>12}")
    zero = {"self_ms": 0.0, "calls": 0}
    for f in sorted(set(fa) | set(fb), key=lambda f: -max(fa.get(f, zero)["self_ms"], fb.get(f, zero)["self_ms"])):
        x, y = fa.get(f, zero), fb.get(f, zero)
        lines.append(f"{short(f, width):{width}} {x['self_ms']:14.2f} {x['calls']:>6} {y['self_ms']:14.2f} "
                     f"{y['calls']:>6} {y['self_ms'] - x['self_ms']:+12.2f}")
    return "\n".join(lines)


def record(a, b, labels=("A", "B"), top=25):
    """The JSON record of a comparison (top rows, both totals, the families)."""
    la, lb = labels
    return {"record": "profile", "step": a["step_name"], "labels": [la, lb], "traces": [a["trace"], b["trace"]],
            "steps": [a["steps"], b["steps"]],
            "step_ms": [a["step_ms"], b["step_ms"]], "ops_total_ms": [a["ops_total_ms"], b["ops_total_ms"]],
            "events": [a["events"], b["events"]],
            "top": [{"op": n, "ms": [x["self_ms"], y["self_ms"]], "calls": [x["calls"], y["calls"]]}
                    for n, x, y in compare(a, b, top)],
            "families": {f: {"ms": [families(a).get(f, {}).get("self_ms", 0.0),
                                    families(b).get(f, {}).get("self_ms", 0.0)]}
                         for f in set(families(a)) | set(families(b))}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="first chrome trace (e.g. the transformers side)")
    ap.add_argument("b", help="second chrome trace (e.g. Prospect's)")
    ap.add_argument("--labels", default="A,B", help="names of the two sides, comma-separated")
    ap.add_argument("--top", type=int, default=25, help="rows of the per-op table (0: all)")
    ap.add_argument("--step", help="name of the step span (default: train_step* or stream_frame*, else the longest "
                                   "span)")
    a = ap.parse_args(argv)
    labels = tuple(a.labels.split(",", 1)) if "," in a.labels else (a.labels, "B")
    try:
        sa, sb = summarize(a.a, a.step), summarize(a.b, a.step)
    except TraceError as e:
        print(f"profile_ops: {e}", file=sys.stderr)
        return 1
    print(format_table(sa, sb, labels, a.top))
    print(json.dumps(record(sa, sb, labels, a.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
