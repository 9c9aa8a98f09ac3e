// The command-line options `prospect stream` and `prospect eval --model` share (model folder aside), in one
// place so both spell and document them alike. Torch-free: cmd_eval.cpp builds without libtorch too.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "stream/stream_options.h"

namespace prospect::stream {

// The options `stream` and `eval --model` share, on either subcommand.
inline void add_stream_options(CLI::App& sub, ModelRunOptions& run, StreamOptions& so, std::string& policy,
                               bool& no_constrain) {
  sub.add_option("--frames-root", run.frames_root,
                 "Folder frames files are found under (default: the data file's folder)");
  sub.add_option("--tokenizer", run.tokenizer, "tokenizer.json (default: MODEL/tokenizer.json)");
  // Defined before the single thresholds so that an explicit --threshold-* still wins over the file.
  sub.add_option_function<std::string>(
      "--thresholds",
      [&so](const std::string& path) {
        nlohmann::json j = prospect::read_json_file(path);
        const nlohmann::json& t = j.contains("thresholds") ? j["thresholds"] : j;
        if (!t.is_object() || !t.contains("dst") || !t.contains("speak") || !t["dst"].is_number() ||
            !t["speak"].is_number())
          prospect::fail(path +
                         ": expected {\"thresholds\": {\"dst\": x, \"speak\": y}} (what `prospect eval "
                         "--sweep --json` prints)");
        so.threshold_dst = t["dst"].get<double>();
        so.threshold_speak = t["speak"].get<double>();
      },
      "Read both thresholds from a JSON file: the output of `prospect eval --model ... --sweep --json`");
  sub.add_option("--threshold-dst", so.threshold_dst, "Fire the DST head when p > this")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option("--threshold-speak", so.threshold_speak, "Speak when p > this")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  sub.add_flag("--no-constrain", no_constrain,
               "Free DST decoding (default: constrained to valid transitions)");
  sub.add_flag_function(
      "--keep-dst-speech", [&so](int64_t) { so.reroute_dst_speech = false; },
      "Keep utterances that are nothing but DST items (default: write them as the frame's DST update)");
  sub.add_option("--min-reset-prob", so.min_reset_prob,
                 "Drop a reset item the grammar forced on a token the model gave less than this probability "
                 "(0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option_function<int64_t>(
      "--max-context", [&run, &so](int64_t v) { so.max_context = v, run.max_context_given = true; },
      "Tokens the KV cache may hold (default: the checkpoint's trained data.max_seq_len, else 4096)");
  sub.add_option("--refresh-margin", so.refresh_margin, "Refresh when fewer tokens than this would remain")
      ->capture_default_str();
  sub.add_option("--context-policy", policy, "refresh (rebuild from the tracked state) or drop_middle")
      ->capture_default_str();
  sub.add_flag("--teacher-forced", so.teacher_forced,
               "Append the reference turns instead of generating (debugging)");
  sub.add_option_function<int>(
      "--frame-stride", [&run, &so](int v) { so.frame_stride = v, run.frame_stride_given = true; },
      "Visit every s-th frame, anchor frames always (default: the checkpoint's trained data.frame_stride, "
      "else 1)");
  sub.add_option("--threads", run.threads, "Compute threads (default: PROSPECT_THREADS or all cores)");
  sub.add_option("--device", run.device, "cpu or cuda[:i]")->capture_default_str();
  sub.add_option("--dtype", run.dtype, "fp32, bf16 or fp16")->capture_default_str();
  sub.add_option("--encode-batch", run.encode_batch, "Frames per vision-tower call (1 = strictly live)")
      ->capture_default_str();
}

}  // namespace prospect::stream
