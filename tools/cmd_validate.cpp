// `prospect validate`: schema and state-machine checks of clip files (data.md), with counts per file and in
// total. Exit 0 when every clip is usable, 1 on any error, and with --strict also on any finding. With
// --frames-root (alias --data-root), also checks that each frames file exists and covers its clip's frame
// range, and that each features file opens and has a row for every frame of its clip. Reads no pixels.
#include <iostream>
#include <map>
#include <memory>

#include "command.h"
#include "core/error.h"
#include "data/clip_checks.h"
#include "data/clip_reader.h"
#include "data/feature_store.h"
#include "data/frame_store.h"

namespace {

using namespace prospect::data;

struct Counts {
  int64_t clips = 0, dst_clips = 0, proassist_clips = 0, turns = 0, transitions = 0, frames = 0, errors = 0;
  std::map<std::string, int64_t> by_role;
  std::map<std::string, int64_t> findings;  // by kind
  void add(const Counts& o) {
    clips += o.clips;
    dst_clips += o.dst_clips;
    proassist_clips += o.proassist_clips;
    turns += o.turns;
    transitions += o.transitions;
    frames += o.frames;
    errors += o.errors;
    for (const auto& [k, v] : o.by_role) by_role[k] += v;
    for (const auto& [k, v] : o.findings) findings[k] += v;
  }
  int64_t total_findings() const {
    int64_t n = 0;
    for (const auto& [k, v] : findings) n += v;
    return n;
  }
};

const char* role_name(Role r) {
  switch (r) {
    case Role::System:
      return "system";
    case Role::User:
      return "user";
    case Role::Assistant:
      return "assistant";
    case Role::DstUpdate:
      return "DST_UPDATE";
  }
  return "?";
}

void print_counts(const std::string& label, const Counts& c) {
  std::cout << label << ": " << c.clips << " clips (" << c.dst_clips << " DST, " << c.proassist_clips
            << " ProAssist), " << c.turns << " turns (";
  bool first = true;
  for (const char* r : {"user", "assistant", "DST_UPDATE", "system"}) {
    auto it = c.by_role.find(r);
    std::cout << (first ? "" : ", ") << r << " " << (it == c.by_role.end() ? 0 : it->second);
    first = false;
  }
  std::cout << "), " << c.transitions << " transitions, " << c.frames << " frames, " << c.errors
            << " errors, " << c.total_findings() << " findings (";
  first = true;
  for (FindingKind k : {FindingKind::TransitionNotApplicable, FindingKind::DstStateMismatch}) {
    auto it = c.findings.find(finding_kind_name(k));
    std::cout << (first ? "" : ", ") << finding_kind_name(k) << " "
              << (it == c.findings.end() ? 0 : it->second);
    first = false;
  }
  std::cout << ")\n";
}

// What --frames-root found for one frames file.
struct FramesInfo {
  int64_t frames = 0;
  std::string path;
  std::string error;
};

// What --frames-root found for one features file.
struct FeaturesInfo {
  std::shared_ptr<FeatureStore> store;
  std::string error;
};

struct Options {
  std::vector<std::string> data;
  bool strict = false;
  std::string frames_root;
  int max_messages = 20;
};

prospect::tools::Command reg(
    "validate",
    "Check clip files (DST JSON / ProAssist JSONL): schema, anchors, step state machine; print counts",
    [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("--data", o->data, "Clip files to check (JSON array, single object or JSONL)")
          ->required()
          ->expected(1, -1);
      sub.add_flag("--strict", o->strict,
                   "Treat findings (inapplicable transitions, dst_state mismatches) as errors");
      sub.add_option("--frames-root,--data-root", o->frames_root,
                     "Data root of the frames and features files: also check each frames file exists and "
                     "covers its clip's frame range, and each features file has a row for every frame");
      sub.add_option("--max-messages", o->max_messages,
                     "Errors and findings printed per file (the rest are counted)")
          ->check(CLI::NonNegativeNumber);
      return [o]() -> int {
        Counts total;
        std::map<std::string, FramesInfo> frame_counts;      // by frames_file and video_uid
        std::map<std::string, FeaturesInfo> feature_stores;  // by features_file
        int64_t feature_clips = 0;                           // clips whose features were checked
        for (const std::string& path : o->data) {
          Counts c;
          ClipReadResult r = read_clips_collect(path);
          std::vector<std::string> messages = r.errors;
          c.errors = static_cast<int64_t>(r.errors.size());
          for (const Clip& clip : r.clips) {
            ++c.clips;
            (clip.format == ClipFormat::Dst ? c.dst_clips : c.proassist_clips)++;
            c.frames += clip.end_frame - clip.start_frame;
            for (const Turn& t : clip.turns) {
              ++c.turns;
              ++c.by_role[role_name(t.role)];
              c.transitions += static_cast<int64_t>(t.dst_items.size());
            }
            for (const Finding& f : check_clip(clip)) {
              ++c.findings[finding_kind_name(f.kind)];
              messages.push_back(std::string(o->strict ? "error" : "finding") + " (" +
                                 finding_kind_name(f.kind) + "): " + f.message);
            }
            if (!o->frames_root.empty() && !clip.features_file.empty()) {
              ++feature_clips;
              auto it = feature_stores.find(clip.features_file);
              if (it == feature_stores.end()) {
                FeaturesInfo info;
                try {
                  info.store = open_feature_store(o->frames_root, clip.features_file);
                } catch (const prospect::Error& e) {
                  info.error = e.what();
                }
                it = feature_stores.emplace(clip.features_file, info).first;
              }
              const FeaturesInfo& fi = it->second;
              if (!fi.error.empty()) {
                ++c.errors;
                messages.push_back(prospect::format_error(clip_context(clip, "features_file"), fi.error));
              } else if (auto m = check_clip_features(clip, *fi.store)) {
                ++c.errors;
                messages.push_back(*m);
              }
            }
            // A clip that names only features has no frames file to check.
            if (!o->frames_root.empty() && (!clip.frames_file.empty() || clip.features_file.empty())) {
              prospect::ErrorContext ctx{path, clip.index_in_file, clip.video_uid, -1, "frames_file"};
              // One open per frames file: many clips share a video.
              std::string key = clip.frames_file + "\n" + clip.video_uid;
              auto it = frame_counts.find(key);
              if (it == frame_counts.end()) {
                FramesInfo info;
                try {
                  std::unique_ptr<FrameStore> store =
                      open_frame_store(o->frames_root, clip.frames_file, clip.video_uid, clip.dataset);
                  info.frames = store->num_frames();
                  info.path = store->path();
                } catch (const prospect::Error& e) {
                  info.error = e.what();
                }
                it = frame_counts.emplace(key, info).first;
              }
              const FramesInfo& fi = it->second;
              if (!fi.error.empty()) {
                ++c.errors;
                // The store's message already names the video and the paths tried.
                messages.push_back(prospect::format_error(
                    prospect::ErrorContext{path, clip.index_in_file, "", -1, ""}, fi.error));
              } else if (fi.frames < clip.end_frame) {
                ++c.errors;
                messages.push_back(prospect::format_error(
                    ctx, fi.path + " has " + std::to_string(fi.frames) + " frames; the clip needs frames [" +
                             std::to_string(clip.start_frame) + ", " + std::to_string(clip.end_frame) + ")"));
              }
            }
          }
          for (size_t i = 0; i < messages.size() && static_cast<int>(i) < o->max_messages; ++i) {
            std::cout << "  " << messages[i] << "\n";
          }
          if (static_cast<int>(messages.size()) > o->max_messages) {
            std::cout << "  ... and " << messages.size() - static_cast<size_t>(o->max_messages) << " more\n";
          }
          print_counts(path, c);
          total.add(c);
        }
        if (o->data.size() > 1) print_counts("total", total);
        if (feature_clips > 0) {
          int64_t opened = 0;
          for (const auto& [name, fi] : feature_stores) opened += fi.store ? 1 : 0;
          std::cout << "features: " << feature_clips << " clips checked against " << opened << " of "
                    << feature_stores.size() << " features files\n";
        }
        bool bad = total.errors > 0 || (o->strict && total.total_findings() > 0);
        if (bad) {
          std::cout << "FAILED: " << total.errors << " errors"
                    << (o->strict ? ", " + std::to_string(total.total_findings()) + " findings (--strict)"
                                  : "")
                    << "\n";
          return 1;
        }
        std::cout << "OK: " << total.clips << " usable clips"
                  << (total.total_findings() > 0
                          ? " (" + std::to_string(total.total_findings()) + " findings)"
                          : "")
                  << "\n";
        return 0;
      };
    });

}  // namespace
