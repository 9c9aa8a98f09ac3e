// The streaming half of prospect._prospect: a checkpoint loaded once for streaming (the engine of
// `prospect stream`, with the trained max_context / frame_stride unless given), run over a clip with frames
// from its frames file or from Python (numpy or torch, one picture per frame), events and per-frame
// decisions reported to Python callbacks as they happen; and the scorer of `prospect eval --predictions`.
// Not here: the loop itself (src/stream/stream_engine.h), the metrics (src/eval/streaming_metrics.h).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.h"
#include "core/error.h"
#include "core/torch_threads.h"
#include "eval/streaming_metrics.h"
#include "eval/timeline.h"
#include "stream/stream_model.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace prospect::py_bind {

namespace {

py::dict decision_to_py(const stream::FrameDecision& d) {
  py::dict o;
  o["frame"] = d.frame;
  o["p_speak"] = d.p_speak;
  o["p_dst"] = d.p_dst;
  o["fired_speak"] = d.fired_speak;
  o["fired_dst"] = d.fired_dst;
  o["label_speak"] = d.label_speak;
  o["label_dst"] = d.label_dst;
  return o;
}

py::object json_to_py(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

class StreamCore {
 public:
  StreamCore(const std::string& model_dir, const std::string& tokenizer, const std::string& frames_root,
             double threshold_dst, double threshold_speak, bool constrain_dst, int64_t max_context,
             int64_t refresh_margin, int frame_stride, const std::string& context_policy, bool teacher_forced,
             int max_dst_tokens, int max_speak_tokens, int threads, int encode_batch,
             const std::string& device, const std::string& dtype, bool reroute_dst_speech,
             double min_reset_prob) {
    run_.model_dir = model_dir;
    run_.tokenizer = tokenizer;
    run_.frames_root = frames_root;
    run_.device = device;
    run_.dtype = dtype;
    run_.threads = threads;
    run_.encode_batch = encode_batch;
    if (threads > 0) set_compute_threads(threads);
    so_.threshold_dst = threshold_dst;
    so_.threshold_speak = threshold_speak;
    so_.constrain_dst = constrain_dst;
    so_.refresh_margin = refresh_margin;
    so_.policy = stream::parse_context_policy(context_policy);
    so_.teacher_forced = teacher_forced;
    so_.max_dst_tokens = max_dst_tokens;
    so_.max_speak_tokens = max_speak_tokens;
    so_.reroute_dst_speech = reroute_dst_speech;
    if (min_reset_prob < 0 || min_reset_prob > 1) fail("min_reset_prob must be in [0, 1]");
    so_.min_reset_prob = min_reset_prob;
    if (max_context > 0) so_.max_context = max_context, run_.max_context_given = true;
    if (frame_stride > 0) so_.frame_stride = frame_stride, run_.frame_stride_given = true;
    m_ = stream::load_stream_model(run_);
    notes_ = stream::resolve_trained_stream_options(run_, so_);
    engine_ = std::make_unique<stream::StreamEngine>(*m_.model, m_.heads.get(), *m_.tokenizer, so_);
  }

  py::dict run(const data::Clip& clip, int64_t clip_position, py::object frames, py::object on_event,
               py::object on_frame, const std::string& frames_root) {
    state_ = clip.initial_state;
    stream::StreamObserver obs;
    obs.on_event = [&](const stream::StreamEvent& e, const data::TaskState& after) {
      state_ = after;
      if (!on_event.is_none()) on_event(json_to_py(stream::timeline_jsonl_line(e, clip)), state_to_py(after));
    };
    obs.on_frame = [&](const stream::FrameDecision& d) {
      if (!on_frame.is_none()) on_frame(decision_to_py(d));
    };
    stream::ClipStreamResult r;
    if (frames.is_none()) {
      std::string root = !frames_root.empty()        ? frames_root
                         : !run_.frames_root.empty() ? run_.frames_root
                                                     : stream::frames_root_for(run_, clip.source_file);
      r = stream::stream_clip(m_, *engine_, clip, clip_position, root, run_.encode_batch, &obs);
    } else {
      r = engine_->run(
          clip, clip_position, [&](int64_t f) { return features_from_python(clip, frames, f); }, &obs);
    }
    py::list events;
    for (const stream::StreamEvent& e : r.events)
      events.append(json_to_py(stream::timeline_jsonl_line(e, clip)));
    py::list decisions;
    for (const stream::FrameDecision& d : r.decisions) decisions.append(decision_to_py(d));
    const stream::StreamStats& s = r.stats;
    py::dict stats;
    stats["frames"] = s.frames;
    stats["refreshes"] = s.refreshes;
    stats["dst_updates"] = s.dst_updates;
    stats["dst_items_applied"] = s.dst_items_applied;
    stats["dst_items_invalid"] = s.dst_items_invalid;
    stats["dst_skipped"] = s.dst_skipped;
    stats["utterances"] = s.utterances;
    stats["generated_tokens"] = s.generated_tokens;
    stats["max_cache_tokens"] = s.max_cache_tokens;
    stats["seconds"] = s.seconds;
    py::dict out;
    out["clip"] = r.clip;
    out["events"] = events;
    out["decisions"] = decisions;
    out["final_state"] = state_to_py(r.final_state);
    out["log"] = r.log;
    out["stats"] = stats;
    state_ = r.final_state;
    return out;
  }

  std::vector<int64_t> planned_frames(const data::Clip& clip) const { return engine_->planned_frames(clip); }
  py::dict state() const { return state_to_py(state_); }
  const std::vector<std::string>& notes() const { return notes_; }
  py::dict options() const {
    py::dict d;
    d["threshold_dst"] = so_.threshold_dst;
    d["threshold_speak"] = so_.threshold_speak;
    d["constrain_dst"] = so_.constrain_dst;
    d["max_context"] = so_.max_context;
    d["refresh_margin"] = so_.refresh_margin;
    d["frame_stride"] = so_.frame_stride;
    d["context_policy"] = stream::context_policy_name(so_.policy);
    d["teacher_forced"] = so_.teacher_forced;
    d["reroute_dst_speech"] = so_.reroute_dst_speech;
    d["min_reset_prob"] = so_.min_reset_prob;
    d["decision"] = m_.heads ? "heads" : "tokens";
    return d;
  }

 private:
  // Image features [1, K, H] of `frame` from a Python callable frame -> torch.Tensor: an RGB picture
  // [H, W, 3] uint8 (SmolVLM, preprocessed as training does), or precomputed features [K, D]
  // (llama_features).
  at::Tensor features_from_python(const data::Clip& clip, const py::object& frames, int64_t frame) {
    py::object got = frames(frame);
    at::Tensor t = tensor_from_py(got, "Stream frames");
    ErrorContext ctx = data::clip_context(clip, "frames");
    at::NoGradGuard no_grad;
    model::SmolVLM& model = *m_.model;
    if (model.config.is_llama_features()) {
      if (t.dim() != 2)
        fail(ctx, "frame " + std::to_string(frame) + ": features of " + std::to_string(t.dim()) + " dims",
             "give [K, D] float features per frame for a llama_features model");
      return model.encode_images(t.to(at::kFloat).contiguous().unsqueeze(0), false);
    }
    if (t.dim() != 3 || t.size(2) != 3 || t.scalar_type() != at::kByte)
      fail(ctx,
           "frame " + std::to_string(frame) + ": a " + std::string(c10::toString(t.scalar_type())) +
               " tensor of shape " + c10::str(t.sizes()),
           "give each frame as an RGB picture [H, W, 3] of uint8 (numpy or torch)");
    t = t.contiguous();
    vision::Image img;
    img.height = static_cast<int>(t.size(0));
    img.width = static_cast<int>(t.size(1));
    img.rgb.assign(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
    const int64_t s = model.config.vision.image_size;
    std::vector<float> v = vision::frame_pixel_values(img, static_cast<int>(s));
    at::Tensor px = at::from_blob(v.data(), {1, 3, s, s}, at::kFloat).clone();
    at::Tensor feats = model.encode_images(px);
    if (feats.size(0) != 1)
      fail(ctx,
           "frame " + std::to_string(frame) + " is an all-zero picture, which the model treats as padding");
    return feats;
  }

  stream::ModelRunOptions run_;
  stream::StreamOptions so_;
  stream::StreamModel m_;
  std::vector<std::string> notes_;
  std::unique_ptr<stream::StreamEngine> engine_;
  data::TaskState state_;
};

std::vector<data::Clip> unhold(const std::vector<std::shared_ptr<data::Clip>>& clips) {
  std::vector<data::Clip> out;
  out.reserve(clips.size());
  for (const auto& c : clips) out.push_back(*c);
  return out;
}

}  // namespace

void register_stream(py::module_& m) {
  py::class_<StreamCore>(m, "_StreamCore")
      .def(py::init<const std::string&, const std::string&, const std::string&, double, double, bool, int64_t,
                    int64_t, int, const std::string&, bool, int, int, int, int, const std::string&,
                    const std::string&, bool, double>(),
           py::arg("model_dir"), py::arg("tokenizer"), py::arg("frames_root"), py::arg("threshold_dst"),
           py::arg("threshold_speak"), py::arg("constrain_dst"), py::arg("max_context"),
           py::arg("refresh_margin"), py::arg("frame_stride"), py::arg("context_policy"),
           py::arg("teacher_forced"), py::arg("max_dst_tokens"), py::arg("max_speak_tokens"),
           py::arg("threads"), py::arg("encode_batch"), py::arg("device"), py::arg("dtype"),
           py::arg("reroute_dst_speech"), py::arg("min_reset_prob"))
      .def("run", &StreamCore::run, py::arg("clip"), py::arg("clip_position"), py::arg("frames"),
           py::arg("on_event"), py::arg("on_frame"), py::arg("frames_root"))
      .def("planned_frames", &StreamCore::planned_frames)
      .def_property_readonly("state", &StreamCore::state)
      .def_property_readonly("notes", &StreamCore::notes)
      .def_property_readonly("options", &StreamCore::options);

  m.def(
      "_evaluate",
      [](const std::vector<std::shared_ptr<data::Clip>>& clips, const std::string& timeline_text,
         const std::string& origin, double left, double right) {
        std::vector<data::Clip> cs = unhold(clips);
        std::vector<eval::TimelineEvent> events = eval::read_timeline_from_string(timeline_text, origin, cs);
        eval::Window w;
        w.left = left;
        w.right = right;
        return eval::to_json(eval::score_timeline(cs, events, w)).dump();
      },
      py::arg("clips"), py::arg("timeline"), py::arg("origin"), py::arg("left"), py::arg("right"));
  m.def(
      "_oracle_timeline",
      [](const std::vector<std::shared_ptr<data::Clip>>& clips) {
        std::vector<data::Clip> cs = unhold(clips);
        std::string out;
        for (const eval::TimelineEvent& e : eval::oracle_timeline(cs))
          out += eval::timeline_line(e, cs.at(static_cast<size_t>(e.clip))) + "\n";
        return out;
      },
      py::arg("clips"));
}

}  // namespace prospect::py_bind
