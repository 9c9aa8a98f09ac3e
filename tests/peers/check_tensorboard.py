#!/usr/bin/env python3
"""TensorBoard event files, live against tensorboard's own readers.

A short `prospect train` (log every step, validation every 2 steps) and the same run resumed from its middle
checkpoint. Each run's RUN/tensorboard is read with tensorboard's EventAccumulator and, record by record, with
its event_file_loader. Every scalar must be what Prospect logged in RUN/metrics.jsonl (each numeric field but
"step" of a line is the scalar PREFIX/field, PREFIX = the line's "kind" or "train"): the same tags, the same
steps, the same number of points, and values equal to the JSONL double rounded to float32 (TensorBoard's
simple_value). After the resume, the steps redone must appear once, with the resumed run's values.
"""
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import peerlib  # noqa: E402


def jsonl_scalars(path):
    """{tag: [(step, value)]} as Prospect's MetricsLog hands them to TensorBoard, and the number of lines."""
    out = defaultdict(list)
    lines = 0
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        lines += 1
        prefix = rec.get("kind", "train")
        for key, value in rec.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            out[f"{prefix}/{key}"].append((rec["step"], value))
    return out, lines


def accumulator_scalars(tb_dir):
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(str(tb_dir), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def loader_scalars(files):
    """Every simple_value of every record of every file (no de-duplication), and the file_version strings."""
    from tensorboard.backend.event_processing import event_file_loader
    out = defaultdict(list)
    versions = []
    for path in files:
        for ev in event_file_loader.LegacyEventFileLoader(str(path)).Load():
            if ev.HasField("file_version"):
                versions.append(ev.file_version)
            for v in ev.summary.value:
                out[v.tag].append((ev.step, v.simple_value))
    return out, versions


def compare(rep, name, ref, got):
    """ref: JSONL {tag: [(step, double)]}; got: a reader's {tag: [(step, float32)]}. Returns points compared."""
    only_ref, only_got = sorted(set(ref) - set(got)), sorted(set(got) - set(ref))
    rep.require(f"{name}: the same tags as metrics.jsonl", not only_ref and not only_got,
                f"{len(got)} tags" + (f"; only in jsonl {only_ref}, only in tensorboard {only_got}"
                                      if only_ref or only_got else ""))
    n, worst_rel, bad = 0, 0.0, []
    for tag in sorted(set(ref) & set(got)):
        r, g = sorted(ref[tag], key=lambda p: p[0]), sorted(got[tag], key=lambda p: p[0])
        if [s for s, _ in r] != [s for s, _ in g]:
            bad.append(f"{tag}: steps {[s for s, _ in r]} in jsonl, {[s for s, _ in g]} in tensorboard")
            continue
        for (step, want), (_, have) in zip(r, g):
            n += 1
            want32 = np.float32(want)
            if not (want32 == np.float32(have) or (math.isnan(want32) and math.isnan(have))):
                bad.append(f"{tag} step {step}: jsonl {want!r} (float32 {want32!r}), tensorboard {have!r}")
            elif want != 0:
                worst_rel = max(worst_rel, abs(float(have) - want) / abs(want))
    for b in bad[:10]:
        print("    " + b)
    rep.require(f"{name}: every step and value equal", not bad,
                f"{n} scalars; {len(bad)} differences; largest relative rounding of a double {worst_rel:.1e}")
    return n


def check_run(rep, tag, run_dir):
    ref, lines = jsonl_scalars(run_dir / "metrics.jsonl")
    n_ref = sum(len(v) for v in ref.values())
    kinds = Counter(t.split("/")[0] for t in ref for _ in ref[t])
    print(f"{tag}: metrics.jsonl has {lines} lines, {n_ref} scalars in {len(ref)} tags {dict(kinds)}")
    rep.require(f"{tag}: train and val scalars logged", kinds["train"] > 0 and kinds["val"] > 0)
    files = sorted((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    print(f"{tag}: {len(files)} event file(s): {', '.join(f.name for f in files)}")
    loaded, versions = loader_scalars(files)
    rep.require(f"{tag}: each file starts with file_version brain.Event:2", versions == ["brain.Event:2"] * len(files)
                and len(files) > 0, str(versions))
    n_loader = compare(rep, f"{tag} event_file_loader", ref, loaded)
    n_acc = compare(rep, f"{tag} EventAccumulator", ref, accumulator_scalars(run_dir / "tensorboard"))
    rep.require(f"{tag}: equal counts", n_loader == n_ref and n_acc == n_ref,
                f"jsonl {n_ref}, event_file_loader {n_loader}, EventAccumulator {n_acc}")
    return n_acc


def main():
    args = peerlib.parse_args(__doc__.split("\n")[0])
    started = time.time()
    work = peerlib.fresh_dir(args.work)
    rep = peerlib.Report()
    sets = ["train.save_every=2", "train.save_total_limit=3"]
    run_dir, _ = peerlib.tiny_train(args.prospect, work, "run", steps=4, sets=sets)
    total = check_run(rep, "run", run_dir)

    # Resume from step 2: steps 3-4 are redone; metrics.jsonl and the events past step 2 must be replaced.
    peerlib.run_prospect(args.prospect, ["train", "--config", work / "run.json", "--resume",
                                         run_dir / "checkpoints" / "checkpoint-2", *sum((["--set", s] for s in sets), [])],
                         env={"PROSPECT_THREADS": "1"})
    total += check_run(rep, "resumed run", run_dir)
    print(f"scalars compared: {total}")
    return peerlib.finish(rep, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
