#!/usr/bin/env python3
"""Side-by-side figures of bench_hf.py and `prospect bench` from one device call, with the issue-8 targets:
train step (full and frozen vision) <= 0.67x the reference's median, streaming p50 <= 8 ms per frame. Prints
a Markdown table (for docs/PERFORMANCE.md) and one JSON line.

usage: compare_bench.py BENCH_HF.jsonl PROSPECT_BENCH.jsonl
"""
import json
import sys


def read(path):
    rows = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    except OSError as e:
        print(f"cannot read {path}: {e}")
    return rows


def main():
    hf_rows, ours = read(sys.argv[1]), read(sys.argv[2])
    hf = {r["figure"]: r for r in hf_rows if "figure" in r}
    head = next((r for r in hf_rows if "gpu" in r), {})
    out = {"figure": "comparison", "device": head.get("gpu"), "hf_torch": head.get("torch"), "rows": []}
    print(f"device: {head.get('gpu')} (HF torch {head.get('torch')})")
    print("| figure | Prospect mode | Prospect | HF reference | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for r in ours:
        mode = r.get("dtype")
        ref_seq = hf.get("train_step", {}).get("seq_len")
        if ref_seq is not None and r.get("seq_len") not in (None, ref_seq):
            print(f"WARNING: different shapes: Prospect {r.get('shape')} seq_len {r.get('seq_len')} vs the reference's "
                  f"{ref_seq}: the ratios below compare different work")
            out["shape_mismatch"] = True
        for fig, key in (("train_step", "train_step"), ("train_step_frozen_vision", "train_step_frozen_vision")):
            if key in r and fig in hf and "step_s_median" in hf[fig]:
                mine, ref = r[key]["step_s_median"], hf[fig]["step_s_median"]
                ratio = mine / ref
                met = ratio <= 0.67
                print(f"| {fig} (s, median) | {mode} | {mine:.4f} | {ref:.4f} | {ratio:.3f} | <= 0.67 | {'yes' if met else 'no'} |")
                out["rows"].append({"figure": fig, "mode": mode, "prospect": mine, "hf": ref, "ratio": ratio, "met": met,
                                    "prospect_mfu": r[key].get("mfu"), "prospect_peak_gib": r[key].get("peak_mem_gib"),
                                    "hf_peak_gib": hf[fig].get("peak_mem_gib")})
        if "stream_frame" in r and "stream_frame" in hf and "ms_median" in hf["stream_frame"]:
            mine, ref = r["stream_frame"]["ms_p50"], hf["stream_frame"]["ms_median"]
            met = mine <= 8.0
            print(f"| stream_frame (ms, p50) | {mode} | {mine:.2f} (p99 {r['stream_frame']['ms_p99']:.2f}) | {ref:.2f} | "
                  f"{mine / ref:.3f} | <= 8 ms | {'yes' if met else 'no'} |")
            out["rows"].append({"figure": "stream_frame", "mode": mode, "prospect_p50_ms": mine,
                                "prospect_p99_ms": r["stream_frame"]["ms_p99"], "hf_median_ms": ref, "met": met})
    for fig, r in hf.items():
        if "error" in r:
            print(f"HF {fig}: error {r['error']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
