// `prospect inspect`: shows how clips render (sequence.md): the token stream with frame blocks collapsed to
// `[frame 213 ×81]`, learned spans marked ⟦lm …⟧ / ⟦dst …⟧, decision points with their labels, counts per
// clip and how many clips split into how many pieces; --json prints sequence.md §6's fields, one line per
// clip. Works on the JSON alone: no frames, no model (K comes from --image-seq-len).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "core/error.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "text/tokenizer.h"

namespace {

using namespace prospect::data;

struct Options {
  std::string data, tokenizer;
  int64_t index = -1;
  int image_seq_len = 81;
  int64_t max_seq_len = 4096;
  double neg_rate = 1.0;
  uint64_t seed = 42;  // the trainer's default train.seed, so inspect shows what training renders
  int64_t epoch = 0;
  int frame_stride = 1;
  int context_frames = 0;
  double refresh_cut_rate = 0;
  bool json = false;
};

std::string escape_newlines(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string labels_text(const DecisionPoint* d, bool has_steps) {
  if (!d) return "no decision";
  std::string s = "speak=" + std::to_string(d->speak);
  s += has_steps ? " dst=" + std::to_string(d->dst_update) : " dst=-";
  return s;
}

// The human view of one sample, rebuilt from its ids and labels (so it shows exactly what is learned).
void print_sample(const Sample& s, const prospect::text::Tokenizer& tok, int image_seq_len) {
  const int32_t fake = tok.token_to_id("<fake_token_around_image>");
  const size_t n = s.input_ids.size();
  std::map<int64_t, const DecisionPoint*> by_pos;
  for (const auto& d : s.decisions) by_pos[d.position] = &d;
  std::string out;
  auto at_line_start = [&out] {
    if (!out.empty() && out.back() != '\n') out += '\n';
  };
  // A run of silent frame blocks (no text between them, no positive label) is shown as one line.
  struct Run {
    int64_t first = -1, last = -1, count = 0, decisions = 0;
    bool context = false;
  } run;
  auto flush_run = [&] {
    if (run.count == 0) return;
    at_line_start();
    std::string k = " ×" + std::to_string(image_seq_len) + "]";
    std::string what = run.context ? "context frame" : "frame";
    if (run.count == 1) {
      out += "[" + what + " " + std::to_string(run.first) + k;
    } else {
      out += "[" + what + " " + std::to_string(run.first) + k + " … [" + what + " " +
             std::to_string(run.last) + k;
    }
    if (run.context) {
      out +=
          "  " + std::to_string(run.count) + " context block" + (run.count > 1 ? "s" : "") + ", no labels\n";
    } else {
      out += "  " + std::to_string(run.count) + " silent frame" + (run.count > 1 ? "s" : "") + ", " +
             std::to_string(run.decisions) + " decision point" + (run.decisions == 1 ? "" : "s") +
             (s.has_steps ? " (speak=0 dst=0)\n" : " (speak=0)\n");
    }
    run = Run{};
  };
  size_t t = 0, block = 0;
  while (t < n) {
    const size_t block_end = t + static_cast<size_t>(image_seq_len) + 2;
    if (s.input_ids[t] == fake && block_end < n && s.input_ids[block_end] == fake) {
      size_t end = block_end;  // the closing <fake_token_around_image>
      int64_t frame = block < s.frames.size() ? s.frames[block] : -1;
      bool context = static_cast<int>(block) < s.context_frames;
      ++block;
      auto it = by_pos.find(static_cast<int64_t>(end));
      const DecisionPoint* d = it == by_pos.end() ? nullptr : it->second;
      bool positive = d && (d->speak == 1 || d->dst_update == 1);
      if (!positive && (run.count == 0 || run.context == context)) {
        if (run.count == 0) {
          run.first = frame;
          run.context = context;
        }
        run.last = frame;
        ++run.count;
        run.decisions += d != nullptr;
      } else {
        flush_run();
        if (positive) {
          at_line_start();
          out += "[frame " + std::to_string(frame) + " ×" + std::to_string(image_seq_len) +
                 "]  ◆ decision: " + labels_text(d, s.has_steps) + "\n";
        } else {
          run.first = run.last = frame;
          run.context = context;
          run.count = 1;
          run.decisions = d != nullptr;
        }
      }
      t = end + 1;
      continue;
    }
    flush_run();
    // A run of tokens of one kind: learned by lm, learned by dst, or plain.
    int kind = s.lm_labels[t] != kIgnoreIndex ? 1 : s.dst_labels[t] != kIgnoreIndex ? 2 : 0;
    size_t e = t;
    std::vector<int32_t> ids;
    while (e < n) {
      int k = s.lm_labels[e] != kIgnoreIndex ? 1 : s.dst_labels[e] != kIgnoreIndex ? 2 : 0;
      if (k != kind || (kind == 0 && s.input_ids[e] == fake)) break;
      ids.push_back(s.input_ids[e]);
      ++e;
    }
    std::string text = tok.decode(ids);
    if (kind == 0) {
      out += escape_newlines(text);
    } else {
      out += std::string(kind == 1 ? "⟦lm" : "⟦dst") + escape_newlines(text) + "⟧ (" +
             std::to_string(ids.size()) + " tokens)";
    }
    t = e;
  }
  flush_run();
  std::cout << out;
  if (!out.empty() && out.back() != '\n') std::cout << "\n";
}

nlohmann::json state_json(const TaskState& st) {
  nlohmann::json j = nlohmann::json::object();
  for (const std::string& id : st.step_ids()) j[id] = state_name(st.get(id));
  return j;
}

prospect::tools::Command reg(
    "inspect", "Show how clips render: the token sequence, every label stream, decision points and counts",
    [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("--data", o->data, "Clip file (DST JSON / ProAssist JSONL)")->required();
      sub.add_option("--tokenizer", o->tokenizer, "tokenizer.json of the model")->required();
      sub.add_option("--index", o->index, "Only the clip at this position in the file (default: every clip)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--image-seq-len", o->image_seq_len,
                     "K: <image> tokens per frame (81 for SmolVLM2-2.2B)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--max-seq-len", o->max_seq_len,
                     "Split clips longer than this many tokens; 0 never splits")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--neg-rate", o->neg_rate, "Probability of keeping a silent frame as a decision point")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--seed", o->seed,
                     "Seed of the negative frame subsampling (default: train.seed's default)")
          ->capture_default_str();
      sub.add_option("--epoch", o->epoch, "Epoch of the negative frame subsampling");
      sub.add_option("--frame-stride", o->frame_stride,
                     "Keep every s-th frame (anchor frames are always kept)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--context-frames", o->context_frames, "Bare frame blocks repeated before each sub-clip")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--refresh-cut-rate", o->refresh_cut_rate,
                     "data.refresh_cut_rate: probability a clip is cut and starts as a refreshed stream")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_flag("--json", o->json, "One JSON line per clip with the fields of sequence.md §6");
      return [o]() -> int {
        prospect::text::Tokenizer tok = prospect::text::Tokenizer::load(o->tokenizer);
        std::vector<Clip> clips = read_clips(o->data);
        if (o->index >= static_cast<int64_t>(clips.size())) {
          prospect::fail(prospect::ErrorContext{o->data, -1, "", -1, ""},
                         "--index " + std::to_string(o->index) + " but the file has " +
                             std::to_string(clips.size()) + " clips");
        }
        RenderOptions ro;
        ro.image_seq_len = o->image_seq_len;
        ro.max_seq_len = o->max_seq_len;
        ro.neg_frame_sampling_rate = o->neg_rate;
        ro.seed = o->seed;
        ro.frame_stride = o->frame_stride;
        ro.context_frames = o->context_frames;
        ro.refresh_cut_rate = o->refresh_cut_rate;
        ro.keep_text = true;
        ClipRenderer renderer(tok, ro);
        int64_t shown = 0, split = 0, pieces = 0, cuts = 0;
        for (size_t ci = 0; ci < clips.size(); ++ci) {
          if (o->index >= 0 && static_cast<int64_t>(ci) != o->index) continue;
          const Clip& clip = clips[ci];
          std::vector<Sample> samples = renderer.render(clip, o->epoch);
          ++shown;
          if (!samples.empty() && samples.front().refresh_cut >= 0) ++cuts;
          if (samples.size() > 1) {
            ++split;
            pieces += static_cast<int64_t>(samples.size());
          }
          if (o->json) {
            nlohmann::json j;
            j["video_uid"] = clip.video_uid;
            j["clip_idx"] = clip.clip_idx;
            j["index"] = clip.index_in_file;
            if (o->refresh_cut_rate > 0) j["refresh_cut"] = samples.front().refresh_cut;
            j["sub_clips"] = nlohmann::json::array();
            for (const Sample& s : samples) {
              nlohmann::json sj;
              sj["text"] = s.text;
              sj["num_tokens"] = s.input_ids.size();
              sj["first_frame"] = s.first_frame;
              sj["last_frame"] = s.last_frame;
              sj["decision_points"] = s.decisions.size();
              sj["speak_pos"] = s.speak_pos();
              sj["speak_neg"] = s.speak_neg();
              sj["dst_pos"] = s.dst_pos();
              sj["dst_neg"] = s.dst_neg();
              sj["lm_tokens"] = s.lm_tokens();
              sj["dst_tokens"] = s.dst_tokens();
              sj["lm_messages"] = s.lm_messages;
              sj["dst_messages"] = s.dst_messages;
              sj["initial_state"] = state_json(s.initial_state);
              j["sub_clips"].push_back(std::move(sj));
            }
            std::cout << j.dump() << "\n";
            continue;
          }
          std::cout << "=== clip " << ci << " of " << o->data << ": video_uid " << clip.video_uid
                    << ", clip_idx " << clip.clip_idx << ", "
                    << (clip.format == ClipFormat::Dst ? "DST" : "ProAssist") << ", frames ["
                    << clip.start_frame << ", " << clip.end_frame
                    << ") = " << clip.end_frame - clip.start_frame << ", " << clip.steps.size()
                    << " steps, K=" << o->image_seq_len << ", max_seq_len " << o->max_seq_len << "\n";
          int64_t tokens = 0, decisions = 0, sp = 0, sn = 0, dp = 0, dn = 0, lmt = 0, dstt = 0, lmm = 0,
                  dstm = 0;
          for (const Sample& s : samples) {
            if (s.refresh_cut >= 0)
              std::cout << "--- cut at frame " << s.refresh_cut << " (data.refresh_cut_rate)\n";
            std::cout << "--- sub-clip " << s.sub_clip + 1 << "/" << s.num_sub_clips << ": frames "
                      << s.first_frame << ".." << s.last_frame << ", " << s.input_ids.size()
                      << " tokens, initial state "
                      << (s.initial_state.step_ids().empty() ? "(no steps)" : s.initial_state.format())
                      << "\n";
            print_sample(s, tok, o->image_seq_len);
            tokens += static_cast<int64_t>(s.input_ids.size());
            decisions += static_cast<int64_t>(s.decisions.size());
            sp += s.speak_pos();
            sn += s.speak_neg();
            dp += s.dst_pos();
            dn += s.dst_neg();
            lmt += s.lm_tokens();
            dstt += s.dst_tokens();
            lmm += s.lm_messages;
            dstm += s.dst_messages;
          }
          std::cout << "counts: " << samples.size() << " sub-clip" << (samples.size() > 1 ? "s" : "") << ", "
                    << tokens << " tokens, frames " << samples.front().first_frame << ".."
                    << samples.back().last_frame << ", decision points " << decisions << ", speak_labels 1/0 "
                    << sp << "/" << sn << ", dst_update_labels 1/0 " << dp << "/" << dn
                    << ", assistant messages learned " << lmm << " (" << lmt
                    << " tokens), DST_UPDATE messages learned " << dstm << " (" << dstt
                    << " tokens), initial state "
                    << (clip.initial_state.step_ids().empty()  ? "(no steps)"
                        : clip.initial_state.all_not_started() ? "all not_started"
                                                               : clip.initial_state.format())
                    << "\n\n";
        }
        if (!o->json) {
          std::cout << shown << " clip" << (shown == 1 ? "" : "s") << " shown; " << split << " split into "
                    << pieces << " pieces (max_seq_len " << o->max_seq_len << ")";
          if (o->refresh_cut_rate > 0) std::cout << "; " << cuts << " cut for data.refresh_cut_rate";
          std::cout << "\n";
        }
        return 0;
      };
    });

}  // namespace
