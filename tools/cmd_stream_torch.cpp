// `prospect stream`: runs a checkpoint over clips frame by frame (streaming.md §1) and prints the live
// timeline (DST updates with the state they lead to, utterances, refreshes, ignored items) and each clip's
// final state; --timeline also writes the JSONL timeline `prospect eval --predictions` scores.
// Not here: the loop (src/stream/stream_engine.h), metrics (`prospect eval --model`).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "command.h"
#include "core/error.h"
#include "core/malloc_tuning.h"
#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "stream/stream_model.h"
#include "stream_cli_options.h"

namespace {

struct StreamCliOptions {
  prospect::stream::ModelRunOptions run;
  prospect::stream::StreamOptions stream;
  std::string data;
  int64_t index = -1;
  std::string timeline;
  std::string policy = "refresh";
  bool no_constrain = false;
  bool quiet = false;
  bool verbose = false;
};

int run_stream(const StreamCliOptions& o) {
  using namespace prospect;
  tune_malloc_for_torch();  // before any tensor: see core/malloc_tuning.h
  set_compute_threads(o.run.threads > 0 ? o.run.threads : tools::default_threads());
  stream::StreamOptions so = o.stream;
  so.constrain_dst = !o.no_constrain;
  so.policy = stream::parse_context_policy(o.policy);
  std::vector<data::Clip> clips = data::read_clips(o.data);
  if (o.index >= static_cast<int64_t>(clips.size())) {
    ErrorContext ctx;
    ctx.file = o.data;
    ctx.field = "--index";
    fail(ctx, "clip " + std::to_string(o.index) + " asked for, the file has " + std::to_string(clips.size()),
         "clips are numbered from 0 in file order");
  }
  stream::StreamModel m = stream::load_stream_model(o.run);
  for (const std::string& line : stream::resolve_trained_stream_options(o.run, so))
    std::fprintf(stderr, "stream: %s\n", line.c_str());
  stream::StreamEngine engine(*m.model, m.heads.get(), *m.tokenizer, so);
  const std::string root = stream::frames_root_for(o.run, o.data);

  std::unique_ptr<std::ofstream> timeline;
  ErrorContext tctx;
  tctx.file = o.timeline;
  if (!o.timeline.empty()) {
    timeline = std::make_unique<std::ofstream>(o.timeline, std::ios::binary | std::ios::trunc);
    if (!*timeline) fail(tctx, "cannot open for writing", "does the folder exist?");
  }

  int64_t begin = o.index >= 0 ? o.index : 0;
  int64_t end = o.index >= 0 ? o.index + 1 : static_cast<int64_t>(clips.size());
  for (int64_t i = begin; i < end; ++i) {
    const data::Clip& clip = clips[static_cast<size_t>(i)];
    std::printf("clip %lld  %s#%lld  frames [%lld, %lld) at %.2f fps, %zu steps%s\n",
                static_cast<long long>(i), clip.video_uid.c_str(), static_cast<long long>(clip.clip_idx),
                static_cast<long long>(clip.start_frame), static_cast<long long>(clip.end_frame), clip.fps,
                clip.steps.size(),
                clip.steps.empty() ? "" : ("; state " + clip.initial_state.format()).c_str());
    stream::StreamObserver obs;
    if (!o.quiet) {
      obs.on_event = [](const stream::StreamEvent& e, const data::TaskState& state) {
        bool dst = e.event.type == eval::EventType::DstUpdate;
        std::printf("[%8.2fs f=%6lld] %-11s p=%.2f  %s%s\n", e.event.time,
                    static_cast<long long>(e.event.frame), dst ? "DST_UPDATE" : "Assistant", e.p,
                    e.event.text.c_str(), dst ? ("   => " + state.format()).c_str() : "");
        std::fflush(stdout);
      };
      obs.on_log = [](const std::string& m) { std::printf("  ! %s\n", m.c_str()); };
    }
    if (o.verbose) {
      obs.on_frame = [](const stream::FrameDecision& d) {
        std::printf("  frame %6lld  p_dst %.3f%s  p_speak %.3f%s\n", static_cast<long long>(d.frame), d.p_dst,
                    d.label_dst == 1 ? "*" : " ", d.p_speak, d.label_speak == 1 ? "*" : " ");
      };
    }
    stream::ClipStreamResult r = stream::stream_clip(m, engine, clip, i, root, o.run.encode_batch, &obs);
    if (timeline) {
      for (const stream::StreamEvent& e : r.events) *timeline << stream::timeline_jsonl_line(e, clip) << "\n";
      timeline->flush();
      if (!*timeline) fail(tctx, "write failed", "is the disk full?");
    }
    const stream::StreamStats& s = r.stats;
    if (!clip.steps.empty()) std::printf("final state: %s\n", r.final_state.format().c_str());
    std::printf(
        "clip %lld: %lld frames, %zu events (%lld updates, %lld utterances), %lld invalid items, %lld "
        "refreshes (%s), max cache %lld tokens, %.1f ms/frame\n",
        static_cast<long long>(i), static_cast<long long>(s.frames), r.events.size(),
        static_cast<long long>(s.dst_updates), static_cast<long long>(s.utterances),
        static_cast<long long>(s.dst_items_invalid), static_cast<long long>(s.refreshes),
        stream::context_policy_name(so.policy), static_cast<long long>(s.max_cache_tokens),
        s.frames > 0 ? 1000.0 * s.seconds / static_cast<double>(s.frames) : 0.0);
  }
  if (timeline) std::printf("timeline written to %s\n", o.timeline.c_str());
  return 0;
}

}  // namespace

namespace {

prospect::tools::Command reg(
    "stream",
    "Stream a checkpoint over clips frame by frame: live DST updates, utterances and the final state",
    [](CLI::App& sub) {
      auto o = std::make_shared<StreamCliOptions>();
      sub.add_option("--model", o->run.model_dir,
                     "Checkpoint folder (HF layout + prospect_heads.safetensors)")
          ->required();
      sub.add_option("--data", o->data, "Clip file (DST clips or ProAssist samples)")->required();
      sub.add_option("--index", o->index,
                     "Stream only this clip (0-based position in the file; default: every clip)");
      sub.add_option("--timeline", o->timeline, "Also write the JSONL timeline here");
      prospect::stream::add_stream_options(sub, o->run, o->stream, o->policy, o->no_constrain);
      sub.add_flag("--quiet", o->quiet, "Print only each clip's summary");
      sub.add_flag("--verbose", o->verbose,
                   "Print both heads' probabilities at every frame (* = reference anchor)");
      return [o]() { return run_stream(*o); };
    });

}  // namespace
