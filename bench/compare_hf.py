#!/usr/bin/env python3
"""Prospect against transformers on the same CPU, side by side (issue 19).

Run by the venv's Python (transformers 5.25, torch 2.13 CPU: the libtorch Prospect links):

    .venv/bin/python bench/compare_hf.py                      # tiny, 256m, 500m at 1 thread, 2 reps
    .venv/bin/python bench/compare_hf.py --shapes 256m --threads 1,2 --reps 3
    .venv/bin/python bench/compare_hf.py --shapes tiny --reps 1 --iters 2 --stream-frames 4   # the CTest

For every shape and thread count, each repetition runs one process per side and workload, alternating
(transformers, Prospect, transformers, Prospect, ...), so both sides see the same load; each process builds its
model with random weights of the same configuration (one config.json written here and read by both), times
its steps after an untimed warm-up, and reports its figures; the parent reads each child's max RSS from wait4.

Workloads:
  train / train_frozen  SmolVLMForConditionalGeneration(input_ids, pixel_values, labels) + loss.backward() +
                clip_grad_norm_(1.0) + torch.optim.AdamW(lr 1e-5, weight decay 0.01) with SDPA attention, the
                AdamW implementation --hf-adamw names (default fused: the faster on this CPU, see
                docs/PERFORMANCE.md), against `prospect bench` on the same config.json: the same clip
                structure (text_tokens/2 random ids, per frame <fake> + K <image> + <fake> + 8 ids,
                text_tokens/2 ids), the same labelled tokens (all but <image>), the same trainable tensors
                (frozen: the vision tower only), no decision heads on either side.
  stream        the ProAssist-style loop: per frame, SmolVLMImageProcessorPil on a uint8 RGB frame (the
                torchvision-backed default processor is not installed in the venv), one SmolVLMModel forward
                of the frame block with past_key_values=DynamicCache, two Linear(H, 1) decision heads and a
                sigmoid on the last hidden state; against `prospect bench --stream-heads` (the same frame
                block into Prospect's KV cache, vision::frame_pixel_values on the uint8 frame, the two heads).
  memory        the max RSS of each of the processes above (each side in its own process).
  preprocess    (per invocation, not per shape or thread count) examples/collator_throughput.py on a
                `prospect synth` dataset, once per repetition: prospect.Collator (the loader's render, tokenize,
                labels and frames, in C++) against SmolVLMProcessor's tokenizer + SmolVLMImageProcessorPil + a
                Python labels builder + PIL frames, the same batches checked equal; samples/s of both, in one
                process (so no separate RSS), the baseline handed the rendered text untimed (favoured).

Prints one table and one JSON line per (shape, threads, workload) with both sides' absolute figures, the
ratio (Prospect / transformers: below 1 means Prospect is faster or smaller), the machine, the versions and
the load average before and after. Timings are benchmarks: nothing here asserts a ratio.
"""
import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The shapes of src/model/config.cpp (presets 256M / 500M) and src/bench/benchmark.cpp (tiny); the frame size
# and clip length keep one CPU step in seconds.
SHAPES = {
    "tiny": dict(
        config=dict(image_token_id=1023, scale_factor=2,
                    text_config=dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, pad_token_id=2,
                                     rms_norm_eps=1e-5),
                    vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                       num_attention_heads=4, image_size=32, patch_size=4)),
        frames=4, text_tokens=64),
}
for _name, _small in (("256m", True), ("500m", False)):
    SHAPES[_name] = dict(
        config=dict(image_token_id=49190, scale_factor=4, pad_token_id=2, tie_word_embeddings=False,
                    text_config=dict(vocab_size=49280, hidden_size=576 if _small else 960,
                                     intermediate_size=1536 if _small else 2560,
                                     num_hidden_layers=30 if _small else 32,
                                     num_attention_heads=9 if _small else 15,
                                     num_key_value_heads=3 if _small else 5, head_dim=64, rope_theta=100000.0,
                                     rms_norm_eps=1e-5, pad_token_id=2, max_position_embeddings=8192,
                                     tie_word_embeddings=False),
                    vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                       num_attention_heads=12, patch_size=16, image_size=256,
                                       layer_norm_eps=1e-6)),
        frames=2, text_tokens=64)


def tokens_per_image(cfg):
    v = cfg["vision_config"]
    return (v["image_size"] // v["patch_size"]) ** 2 // cfg["scale_factor"] ** 2


def clip_ids(cfg, frames, text_tokens, seed=0):
    import torch
    img = cfg["image_token_id"]
    fake = img - 1
    vocab = cfg["text_config"]["vocab_size"]
    lo, hi = min(100, vocab // 8), min(49000, fake, vocab)
    g = torch.Generator().manual_seed(seed)
    rand = lambda n: torch.randint(lo, hi, (n,), generator=g).tolist()
    ids = rand(text_tokens // 2)
    for _ in range(frames):
        ids += [fake] + [img] * tokens_per_image(cfg) + [fake] + rand(8)
    ids += rand(text_tokens - text_tokens // 2)
    return ids


def frozen_trace_path(path):
    """The frozen-vision step's trace beside `path` ("t.json" -> "t.frozen.json"), as `prospect bench` names it."""
    root, ext = os.path.splitext(path)
    return root + ".frozen" + ext


def stream_trace_path(path):
    """The streamed frames' trace beside `path` ("t.json" -> "t.stream.json"), as `prospect bench` names it."""
    root, ext = os.path.splitext(path)
    return root + ".stream" + ext


def load_model(config_dir, train):
    import torch
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration
    cfg = SmolVLMConfig.from_pretrained(config_dir)
    torch.manual_seed(0)
    model = SmolVLMForConditionalGeneration._from_config(cfg, attn_implementation="sdpa", dtype=torch.float32)
    return model.train() if train else model.eval()


def worker_train(a):
    """transformers: the full and the frozen-vision training step, one JSON line."""
    import torch
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.config, "config.json")))
    model = load_model(a.config, True)
    ids = torch.tensor([clip_ids(cfg, a.frames, a.text_tokens)])
    labels = ids.clone()
    labels[ids == cfg["image_token_id"]] = -100
    s = cfg["vision_config"]["image_size"]
    pv = torch.randn(1, a.frames, 3, s, s, generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    out = {"side": "transformers", "seq_len": ids.shape[1], "labelled_tokens": int((labels[0, 1:] != -100).sum()),
           "adamw": a.hf_adamw}
    for frozen in (False, True):
        for p in model.model.vision_model.parameters():
            p.requires_grad_(not frozen)
        params = [p for p in model.parameters() if p.requires_grad]
        kw = {"fused": True} if a.hf_adamw == "fused" else {"foreach": True}
        opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.01, **kw)
        fig = "train_step_frozen_vision" if frozen else "train_step"
        times, cpu, loss, prof = [], [], None, None
        for i in range(a.warmup + a.iters):
            if a.profile_trace and i == a.warmup:  # the timed steps, as `prospect bench --profile-trace`
                from torch.profiler import ProfilerActivity, profile, record_function
                prof = profile(activities=[ProfilerActivity.CPU])
                prof.__enter__()
            with record_function(fig) if prof is not None else contextlib.nullcontext():
                t0, c0 = time.perf_counter(), time.process_time()
                o = model(input_ids=ids, pixel_values=pv, labels=labels)
                o.loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
            loss = o.loss.item()
            if i >= a.warmup:
                times.append(dt)
                cpu.append(dc)
            del o
        del opt
        t = sorted(times)
        out[fig] = {
            "step_s_median": t[len(t) // 2], "step_s_min": t[0], "steps_s": times, "steps_cpu_s": cpu, "loss": loss,
            "params_trainable": sum(p.numel() for p in params)}
        if prof is not None:
            prof.__exit__(None, None, None)
            out[fig]["profile_trace"] = frozen_trace_path(a.profile_trace) if frozen else a.profile_trace
            prof.export_chrome_trace(out[fig]["profile_trace"])
    print(json.dumps(out), flush=True)


def worker_stream(a):
    """transformers: the ProAssist-style streaming loop, one JSON line."""
    import numpy as np
    import torch
    from torch.profiler import record_function
    from transformers import DynamicCache
    from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.config, "config.json")))
    s = cfg["vision_config"]["image_size"]
    proc = SmolVLMImageProcessorPil(do_image_splitting=False, size={"longest_edge": s},
                                    max_image_size={"longest_edge": s})
    model = load_model(a.config, False)
    h = cfg["text_config"]["hidden_size"]
    torch.manual_seed(5)
    speak_head, dst_head = torch.nn.Linear(h, 1), torch.nn.Linear(h, 1)
    img = cfg["image_token_id"]
    block = torch.tensor([[img - 1] + [img] * tokens_per_image(cfg) + [img - 1]])
    rng = np.random.default_rng(17)
    lat, cpu, prof = [], [], None
    with torch.inference_mode():
        cache = DynamicCache()
        prefix = torch.tensor([clip_ids(cfg, 0, a.prefix_tokens, seed=7)])
        model.model(input_ids=prefix, past_key_values=cache, use_cache=True)
        for f in range(a.stream_frames + 3):
            if a.profile_trace and f == 3:  # the timed frames, as `prospect bench --profile-trace`
                from torch.profiler import ProfilerActivity, profile
                prof = profile(activities=[ProfilerActivity.CPU])
                prof.__enter__()
            frame = rng.integers(0, 256, (s, s, 3), dtype=np.uint8)  # the camera frame
            with record_function("stream_frame") if prof is not None else contextlib.nullcontext():
                t0, c0 = time.perf_counter(), time.process_time()
                px = proc(images=[[frame]], return_tensors="pt")
                out = model.model(input_ids=block, pixel_values=px["pixel_values"],
                                  pixel_attention_mask=px["pixel_attention_mask"], past_key_values=cache,
                                  use_cache=True)
                last = out.last_hidden_state[:, -1]
                probs = torch.cat([speak_head(last), dst_head(last)], -1).sigmoid()
                probs.tolist()  # the decision, read
                dt, dc = 1e3 * (time.perf_counter() - t0), 1e3 * (time.process_time() - c0)
            if f >= 3:
                lat.append(dt)
                cpu.append(dc)
    l = sorted(lat)
    res = {"side": "transformers", "ms_p50": l[len(l) // 2], "ms_p99": l[min(len(l) - 1, int(
        -(-0.99 * len(l) // 1)) - 1)], "ms_min": l[0], "ms_mean": statistics.mean(l), "frames": len(l),
        "cpu_ms_p50": sorted(cpu)[len(cpu) // 2], "context_tokens_end": cache.get_seq_length()}
    if prof is not None:
        prof.__exit__(None, None, None)
        res["profile_trace"] = stream_trace_path(a.profile_trace)
        prof.export_chrome_trace(res["profile_trace"])
    print(json.dumps(res), flush=True)


def run_measured(cmd, threads):
    """Runs one measurement process; returns (its last JSON line, its own max RSS in GiB from wait4, wall s)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PROSPECT_THREADS=str(threads))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, cwd=ROOT, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"compare_hf: {' '.join(cmd)} failed with exit {p.returncode}")
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        raise SystemExit(f"compare_hf: {' '.join(cmd)} printed no JSON line")
    return json.loads(lines[-1]), ru.ru_maxrss / 2**20, wall


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # versions from a child: the parent never imports torch, so that the children's max RSS (which Linux
    # carries across fork + exec) starts from a small Python process
    v = json.loads(subprocess.check_output([sys.executable, "-c", "import json, torch, transformers; print(json.dumps("
                                            "[torch.__version__, transformers.__version__]))"], text=True))
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": v[0],
            "transformers": v[1], "libc": " ".join(platform.libc_ver()), "kernel": platform.release()}


def profile_workload(a, kind, shape, th, cfg_dir, common, emit):
    """--profile: one more process per side with the PyTorch profiler around the timed training steps (kind
    "train": full, then frozen vision) or the timed streamed frames (kind "stream", one stream_frame span per
    frame), traces in a.profile; emits a "profile" record per step kind and returns the per-op tables
    (bench/profile_ops.py) as text."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import profile_ops
    os.makedirs(a.profile, exist_ok=True)
    traces = {side: os.path.abspath(os.path.join(a.profile, f"{side}_{shape}_{th}t.json"))
              for side in ("transformers", "prospect")}
    for path in list(traces.values()):
        for p in ((frozen_trace_path(path), path) if kind == "train" else (stream_trace_path(path),)):
            if os.path.exists(p):
                os.remove(p)
    hf_cmd, pr_cmd = workload_commands(a, kind, th, cfg_dir, common)
    hf_cmd += ["--profile-trace", traces["transformers"]]
    pr_cmd += ["--profile-trace", traces["prospect"]]
    out = {}
    for side, cmd in (("transformers", hf_cmd), ("prospect", pr_cmd)):
        out[side], _, wall = run_measured(cmd, th)
        print(f"# {shape} {th}t {kind} profile {side}: {wall:.1f} s, load {os.getloadavg()[0]:.2f}", file=sys.stderr,
              flush=True)
    texts = []
    labels = ("transformers", "Prospect")
    for fig in (("train_step", "train_step_frozen_vision") if kind == "train" else ("stream_frame",)):
        if kind == "train":
            h, p = out["transformers"][fig], out["prospect"][fig]
            walls = [statistics.mean(h["steps_s"]), statistics.mean(p["steps_s"])]
            unit, what = "step", "steps"
        else:
            h, p = out["transformers"], out["prospect"]["stream_frame"]
            walls = [h["ms_mean"] / 1e3, p["ms_mean"] / 1e3]
            unit, what = "frame", "frames"
        if not h.get("profile_trace") or not p.get("profile_trace"):
            raise SystemExit(f"compare_hf: --profile: a side wrote no trace for {fig}")
        sa, sb = profile_ops.summarize(h["profile_trace"], fig), profile_ops.summarize(p["profile_trace"], fig)
        rec = profile_ops.record(sa, sb, labels, a.profile_top)
        rec.update(shape=shape, threads=th, workload=fig, loadavg=os.getloadavg(), step_wall_s_mean=walls)
        emit(rec)
        texts.append(f"Per-op self time per {unit}, {shape}, {th} thread(s), {fig} (mean of {sa['steps']} / "
                     f"{sb['steps']} profiled {what}; measured wall {walls[0]:.3f} s / {walls[1]:.3f} s per {unit}; "
                     f"load {os.getloadavg()[0]:.2f})\n" + profile_ops.format_table(sa, sb, labels, a.profile_top))
    return "\n\n".join(texts)


def workload_commands(a, w, th, cfg_dir, common):
    """The transformers and the Prospect command line of one measurement process of workload `w`."""
    py, me = sys.executable, os.path.abspath(__file__)
    if w == "train":
        hf_cmd = [py, me, "--worker", "hf-train", "--config", cfg_dir, "--threads", str(th),
                  "--iters", str(a.iters), "--warmup", str(a.warmup), "--hf-adamw", a.hf_adamw] + common
        pr_cmd = [a.prospect, "bench", "--config", cfg_dir, "--device", "cpu", "--threads", str(th),
                  "--no-stream", "--iters", str(a.iters), "--warmup", str(a.warmup), "--json",
                  "--adamw", a.prospect_adamw] + common
    elif w == "stream":
        hf_cmd = [py, me, "--worker", "hf-stream", "--config", cfg_dir, "--threads", str(th),
                  "--stream-frames", str(a.stream_frames), "--prefix-tokens", str(a.prefix_tokens)]
        pr_cmd = [a.prospect, "bench", "--config", cfg_dir, "--device", "cpu", "--threads", str(th),
                  "--no-train", "--no-frozen", "--stream-heads", "--json", "--frames", "0",
                  "--stream-frames", str(a.stream_frames), "--prefix-tokens", str(a.prefix_tokens)]
    else:
        raise SystemExit(f"compare_hf: unknown workload '{w}' (train, stream, preprocess)")
    return hf_cmd, pr_cmd


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="tiny,256m,500m", help="comma list of " + ", ".join(SHAPES))
    ap.add_argument("--threads", default="1", help="comma list of thread counts (e.g. 1,2)")
    ap.add_argument("--reps", type=int, default=2, help="processes per side, workload, shape and thread count")
    ap.add_argument("--iters", type=int, default=3, help="timed training steps per process")
    ap.add_argument("--warmup", type=int, default=1, help="untimed training steps per process")
    ap.add_argument("--frames", type=int, default=0, help="frames of the training clip (0: the shape's own)")
    ap.add_argument("--text-tokens", type=int, default=0, help="text tokens of the clip (0: the shape's own)")
    ap.add_argument("--stream-frames", type=int, default=8, help="timed streamed frames (3 more run first)")
    ap.add_argument("--prefix-tokens", type=int, default=32, help="streaming prompt before the first frame")
    ap.add_argument("--workloads", default="train,stream,preprocess", help="comma list: train, stream, preprocess")
    ap.add_argument("--preprocess-batches", type=int, default=10, help="batches of 4 clips per preprocess run")
    ap.add_argument("--hf-adamw", default="fused", choices=["fused", "foreach"],
                    help="torch.optim.AdamW implementation of the transformers side")
    ap.add_argument("--prospect-adamw", default="fused", choices=["fused", "foreach", "single", "auto"],
                    help="`prospect bench --adamw` (fused: the same kernel as the transformers side; auto is "
                         "single on a CPU, the trainer's default)")
    ap.add_argument("--prospect", default=os.path.join(ROOT, "build", "prospect"))
    ap.add_argument("--json-out", help="also write the JSON lines to this file")
    ap.add_argument("--profile", metavar="DIR",
                    help="train and stream workloads: run each side once more with the PyTorch profiler around its "
                         "timed steps (full and frozen vision) and its timed streamed frames (a stream_frame span "
                         "per frame), write the chrome traces to DIR (SIDE_SHAPE_Nt.json, .frozen.json, "
                         ".stream.json) and print per-op self time per step or frame side by side "
                         "(bench/profile_ops.py)")
    ap.add_argument("--profile-top", type=int, default=25, help="rows of each per-op profile table")
    # worker modes (one measurement process)
    ap.add_argument("--worker", choices=["hf-train", "hf-stream"], help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--profile-trace", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        a.threads = int(a.threads)
        return worker_train(a) if a.worker == "hf-train" else worker_stream(a)

    shapes = [s for s in a.shapes.split(",") if s]
    for s in shapes:
        if s not in SHAPES:
            raise SystemExit(f"compare_hf: unknown shape '{s}' (one of {', '.join(SHAPES)})")
    threads = [int(t) for t in a.threads.split(",") if t]
    workloads = [w for w in a.workloads.split(",") if w]
    if not os.path.exists(a.prospect):
        raise SystemExit(f"compare_hf: {a.prospect} not found: build it first (cmake --build build --target prospect)")
    info = machine()
    load_start = os.getloadavg()
    records, profiles = [], []
    jsonf = open(a.json_out, "w") if a.json_out else None

    def emit(rec):
        line = json.dumps(rec)
        print(line, flush=True)
        if jsonf:
            jsonf.write(line + "\n")
            jsonf.flush()

    emit({"record": "machine", **info, "loadavg_start": load_start, "argv": sys.argv[1:]})
    tmp = tempfile.mkdtemp(prefix="compare_hf_")
    py = sys.executable
    if "preprocess" in workloads:
        data = os.path.join(tmp, "synth")
        subprocess.run([a.prospect, "synth", "--out", data], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        runs = []
        for rep in range(a.reps):
            j, rss, wall = run_measured([py, os.path.join(ROOT, "examples", "collator_throughput.py"), "--data", data,
                                         "--model", os.path.join(data, "model"), "--batches",
                                         str(a.preprocess_batches), "--batch-size", "4"], 1)
            runs.append(j)
            print(f"# preprocess rep {rep + 1}: {wall:.1f} s, load {os.getloadavg()[0]:.2f}", file=sys.stderr,
                  flush=True)
        hf = median([j["plain_python_samples_per_s"] for j in runs])
        pr = median([j["prospect_samples_per_s"] for j in runs])
        rec = {"record": "comparison", "shape": "synth", "threads": 1, "reps": a.reps, "loadavg": os.getloadavg(),
               "workload": "preprocess", "unit": "samples/s", "hf": hf, "prospect": pr, "ratio": pr / hf,
               "batches": a.preprocess_batches, "batch_size": 4, "tokens": runs[0]["tokens"],
               "frames": runs[0]["frames"], "higher_is_better": True,
               "same_work": all(j["same_input_ids"] and j["same_labels"] for j in runs)}
        records.append(rec)
        emit(rec)
    for shape in shapes:
        spec = SHAPES[shape]
        cfg = dict(spec["config"])
        cfg_dir = os.path.join(tmp, shape)
        os.makedirs(cfg_dir, exist_ok=True)
        with open(os.path.join(cfg_dir, "config.json"), "w") as f:  # read by both sides
            json.dump(dict(cfg, model_type="smolvlm", architectures=["SmolVLMForConditionalGeneration"]), f)
        frames = a.frames or spec["frames"]
        text_tokens = a.text_tokens or spec["text_tokens"]
        common = ["--frames", str(frames), "--text-tokens", str(text_tokens)]
        for th in threads:
            res = {w: {"hf": [], "prospect": [], "hf_rss": [], "prospect_rss": [], "hf_json": None,
                       "prospect_json": None} for w in workloads}
            for rep in range(a.reps):
                for w in workloads:
                    if w == "preprocess":
                        continue
                    hf_cmd, pr_cmd = workload_commands(a, w, th, cfg_dir, common)
                    # alternate which side goes first from one repetition to the next
                    order = [("hf", hf_cmd), ("prospect", pr_cmd)]
                    if rep % 2:
                        order.reverse()
                    for side, cmd in order:
                        j, rss, wall = run_measured(cmd, th)
                        res[w][side].append(j)
                        res[w][side + "_rss"].append(rss)
                        p50 = "" if w != "stream" else (
                            f", p50 {(j if side == 'hf' else j['stream_frame'])['ms_p50']:.1f} ms/frame")
                        print(f"# {shape} {th}t {w} rep {rep + 1} {side}: {wall:.1f} s, max RSS {rss:.2f} GiB, "
                              f"load {os.getloadavg()[0]:.2f}{p50}", file=sys.stderr, flush=True)
            for w in workloads:
                if w == "preprocess":
                    continue
                r = res[w]
                base = {"record": "comparison", "shape": shape, "threads": th, "reps": a.reps,
                        "frames": frames, "text_tokens": text_tokens, "loadavg": os.getloadavg()}
                if w == "train":
                    for fig in ("train_step", "train_step_frozen_vision"):
                        hf = [x for j in r["hf"] for x in j[fig]["steps_s"]]
                        pr = [x for j in r["prospect"] for x in j[fig]["steps_s"]]
                        hc = [x for j in r["hf"] for x in j[fig]["steps_cpu_s"]]
                        pc = [x for j in r["prospect"] for x in j[fig]["steps_cpu_s"]]
                        h0, p0 = r["hf"][0], r["prospect"][0]
                        rec = dict(base, workload=fig, unit="s/step",
                                   hf=median(hf), prospect=median(pr), ratio=median(pr) / median(hf),
                                   hf_cpu=median(hc), prospect_cpu=median(pc), ratio_cpu=median(pc) / median(hc),
                                   prospect_malloc=p0.get("malloc"),
                                   hf_min=min(hf), prospect_min=min(pr),
                                   hf_steps=len(hf), prospect_steps=len(pr),
                                   hf_adamw=a.hf_adamw, prospect_adamw=p0.get("adamw"),
                                   seq_len={"hf": h0["seq_len"], "prospect": p0["seq_len"]},
                                   labelled_tokens={"hf": h0["labelled_tokens"], "prospect": p0["labelled_tokens"]},
                                   params_trainable={"hf": h0[fig]["params_trainable"],
                                                     "prospect": p0[fig]["params_trainable"]},
                                   loss={"hf": h0[fig]["loss"], "prospect": p0[fig]["loss"]},
                                   same_work=(h0["seq_len"] == p0["seq_len"]
                                              and h0["labelled_tokens"] == p0["labelled_tokens"]
                                              and h0[fig]["params_trainable"] == p0[fig]["params_trainable"]))
                        records.append(rec)
                        emit(rec)
                    mem_name = "peak_rss_train"
                else:
                    hf50 = median([j["ms_p50"] for j in r["hf"]])
                    pr50 = median([j["stream_frame"]["ms_p50"] for j in r["prospect"]])
                    hf99 = median([j["ms_p99"] for j in r["hf"]])
                    pr99 = median([j["stream_frame"]["ms_p99"] for j in r["prospect"]])
                    hc50 = median([j["cpu_ms_p50"] for j in r["hf"]])
                    pc50 = median([j["stream_frame"]["cpu_ms_p50"] for j in r["prospect"]])
                    for fig, hv, pv in (("stream_frame_p50", hf50, pr50), ("stream_frame_p99", hf99, pr99)):
                        rec = dict(base, workload=fig, unit="ms/frame", hf=hv, prospect=pv, ratio=pv / hv,
                                   prospect_malloc=r["prospect"][0].get("malloc"),
                                   frames_per_process=a.stream_frames, prefix_tokens=a.prefix_tokens,
                                   context_tokens_end={"hf": r["hf"][0]["context_tokens_end"],
                                                       "prospect": r["prospect"][0]["stream_frame"][
                                                           "context_tokens_end"]},
                                   prospect_mode=r["prospect"][0]["stream_frame"].get("mode"))
                        if fig == "stream_frame_p50":
                            rec.update(hf_cpu=hc50, prospect_cpu=pc50, ratio_cpu=pc50 / hc50,
                                       # each process's p50: the spread from process to process (GEMM speed
                                       # varies by ~10 % between processes on a shared box) next to the ratio
                                       hf_per_process=[j["ms_p50"] for j in r["hf"]],
                                       prospect_per_process=[j["stream_frame"]["ms_p50"] for j in r["prospect"]])
                        rec["same_work"] = rec["context_tokens_end"]["hf"] == rec["context_tokens_end"]["prospect"]
                        records.append(rec)
                        emit(rec)
                    mem_name = "peak_rss_stream"
                hm, pm = max(r["hf_rss"]), max(r["prospect_rss"])
                rec = dict(base, workload=mem_name, unit="GiB", hf=hm, prospect=pm, ratio=pm / hm, same_work=True)
                records.append(rec)
                emit(rec)
            for kind in ("train", "stream"):
                if a.profile and kind in workloads:
                    profiles.append(profile_workload(a, kind, shape, th, cfg_dir, common, emit))
    load_end = os.getloadavg()
    shutil.rmtree(tmp, ignore_errors=True)
    emit({"record": "end", "loadavg_start": load_start, "loadavg_end": load_end})
    print()
    print(f"Prospect vs transformers {info['transformers']}, torch {info['torch']}, {info['cpu']} "
          f"({info['cores']} cores); load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end")
    print(f"{'shape':6} {'thr':>3}  {'workload':26} {'transformers':>13} {'Prospect':>13} {'ratio':>7} "
          f"{'CPU-time ratio':>14}  same work")
    for r in records:
        fmt = (lambda v: f"{v:.4f} s") if r["unit"] == "s/step" else (lambda v: f"{v:.1f}/s") if r[
            "unit"] == "samples/s" else (
            (lambda v: f"{v:.2f} ms") if r["unit"] == "ms/frame" else (lambda v: f"{v:.3f} GiB"))
        print(f"{r['shape']:6} {r['threads']:>3}  {r['workload']:26} {fmt(r['hf']):>13} {fmt(r['prospect']):>13} "
              f"{r['ratio']:>6.2f}x {(format(r['ratio_cpu'], '.2f') + 'x') if 'ratio_cpu' in r else '-':>14}  "
              f"{'yes' if r['same_work'] else 'NO'}")
    for text in profiles:
        print()
        print(text)


if __name__ == "__main__":
    main()
