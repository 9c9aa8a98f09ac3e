#!/usr/bin/env python3
"""Summaries for scripts/demo_seeds.sh (standard library only).

  seed_summary.py line SEED RUN_DIR T0 T1 T2   one JSON line from RUN_DIR/eval.json and eval_tf.json
  seed_summary.py table SEEDS.jsonl [...]      a markdown table per file: every seed, the mean and the spread
"""
import json
import statistics
import sys

KINDS = ("start", "complete", "pause", "resume", "reset")


def line(seed, run, t0, t1, t2):
    e = json.load(open(f"{run}/eval.json"))
    tf = json.load(open(f"{run}/eval_tf.json"))
    d = e["dst_transition"]
    out = {
        "seed": int(seed),
        "dst_f1": d.get("f1"), "dst_precision": d.get("precision"), "dst_recall": d.get("recall"),
        "speak_f1": e["speaking"].get("f1"),
        "state_acc": e.get("state_accuracy"), "joint_acc": e.get("joint_state_accuracy"),
        "dst_auroc": e["heads"]["dst"].get("auroc"), "speak_auroc": e["heads"]["speak"].get("auroc"),
        "dst_auroc_tf": tf["heads"]["dst"].get("auroc"), "speak_auroc_tf": tf["heads"]["speak"].get("auroc"),
        "thresholds": e.get("thresholds"),
        "refreshes": e["stream"].get("refreshes"),
        "ms_per_frame_p50": e["stream"].get("ms_per_frame_p50"),
        "train_s": round(float(t1) - float(t0), 1), "eval_s": round(float(t2) - float(t1), 1),
    }
    for kind, m in (d.get("by_transition") or {}).items():
        out[f"{kind}_recall"] = m.get("recall")
        out[f"{kind}_counts"] = [m.get("matched"), m.get("predicted"), m.get("reference")]
    print(json.dumps(out))


def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


COLS = [("dst_f1", "DST F1"), ("dst_precision", "DST P"), ("dst_recall", "DST R"), ("speak_f1", "speak F1"),
        ("state_acc", "state acc"), ("joint_acc", "joint acc"), ("pause_recall", "pause R"),
        ("resume_recall", "resume R"), ("dst_auroc", "DST AUROC free"), ("dst_auroc_tf", "DST AUROC TF"),
        ("train_s", "train s")]


def table(path):
    rows = [json.loads(x) for x in open(path) if x.strip()]
    rows.sort(key=lambda r: r["seed"])
    print(f"\n{path}")
    print("| seed | " + " | ".join(c[1] for c in COLS) + " |")
    print("|---|" + "---|" * len(COLS))
    for r in rows:
        print(f"| {r['seed']} | " + " | ".join(
            fmt(r.get(k)) if k != "train_s" else str(r.get(k)) for k, _ in COLS) + " |")
    cells_mean, cells_spread = [], []
    for k, _ in COLS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        cells_mean.append(fmt(statistics.mean(vals)) if vals else "n/a")
        cells_spread.append(f"{min(vals):.3f}–{max(vals):.3f}" if vals else "n/a")
    print("| **mean** | " + " | ".join(cells_mean) + " |")
    print("| min–max | " + " | ".join(cells_spread) + " |")
    # Errors left, by kind: matched / predicted / reference summed over seeds.
    sums = {}
    for r in rows:
        for kind in KINDS:
            c = r.get(f"{kind}_counts")
            if c:
                s = sums.setdefault(kind, [0, 0, 0])
                for i in range(3):
                    s[i] += c[i] or 0
    if sums:
        print("by kind (matched / predicted / reference over the seeds): " + ", ".join(
            f"{k} {v[0]}/{v[1]}/{v[2]}" for k, v in sums.items()))


if __name__ == "__main__":
    if sys.argv[1] == "line":
        line(*sys.argv[2:7])
    else:
        for p in sys.argv[2:]:
            table(p)
