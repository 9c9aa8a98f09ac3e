// The data half of prospect._prospect: clips and their reader, validation findings, the tokenizer, and the
// collator core (render + tokenize + labels + frames + padding exactly as `prospect train` does, with the
// `data.*` options of docs/CONFIGURATION.md) returning torch tensors. Not here: the torch Dataset and the
// collate_fn wrapper (python/prospect/data.py), streaming (stream_bindings.cpp).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common.h"
#include "core/error.h"
#include "data/batch.h"
#include "data/clip_checks.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "data/dst_state.h"
#include "data/feature_loader.h"
#include "data/pixel_loader.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "text/tokenizer.h"
#include "train/batch_tensors.h"

namespace prospect::py_bind {

py::dict state_to_py(const data::TaskState& st) {
  py::dict d;
  for (const std::string& id : st.step_ids()) d[py::str(id)] = data::state_name(st.get(id));
  return d;
}

namespace {

using ClipHolder = std::shared_ptr<data::Clip>;

std::vector<ClipHolder> hold(std::vector<data::Clip> clips) {
  std::vector<ClipHolder> out;
  out.reserve(clips.size());
  for (data::Clip& c : clips) out.push_back(std::make_shared<data::Clip>(std::move(c)));
  return out;
}

std::string folder_of(const std::string& file) {
  std::string dir = std::filesystem::path(file).parent_path().string();
  return dir.empty() ? "." : dir;
}

// One (sub-)clip of a Dataset: the clip, which piece of it, and where its frames are.
struct SubClip {
  ClipHolder clip;
  int sub_clip = 0;
  std::string frames_root;  // "" = the collator's, else the clip file's folder
};

py::dict validate(const std::vector<std::string>& paths, bool strict) {
  py::list errors, findings;
  int64_t clips = 0, records = 0;
  for (const std::string& path : paths) {
    data::ClipReadResult r = data::read_clips_collect(path);
    records += r.records;
    clips += static_cast<int64_t>(r.clips.size());
    for (const std::string& e : r.errors) errors.append(e);
    for (const data::Clip& clip : r.clips) {
      for (const data::Finding& f : data::check_clip(clip)) {
        py::dict d;
        d["kind"] = data::finding_kind_name(f.kind);
        d["file"] = clip.source_file;
        d["clip"] = clip.index_in_file;
        d["video_uid"] = clip.video_uid;
        d["turn"] = f.turn_index;
        d["message"] = f.message;
        findings.append(d);
      }
    }
  }
  py::dict out;
  out["ok"] = py::len(errors) == 0 && (!strict || py::len(findings) == 0);
  out["strict"] = strict;
  out["records"] = records;
  out["clips"] = clips;
  out["errors"] = errors;
  out["findings"] = findings;
  return out;
}

// The collator's C++ side: one renderer with the training options, frame loaders per frames root.
class CollatorCore {
 public:
  CollatorCore(const std::string& model_dir, const std::string& tokenizer_path,
               const std::string& frames_root, int64_t max_seq_len, int frame_stride, int context_frames,
               double neg_frame_sampling_rate, double anchor_jitter, double refresh_cut_rate, uint64_t seed,
               const std::string& decision, int64_t epoch, bool load_frames)
      : frames_root_(frames_root), epoch_(epoch), load_frames_(load_frames) {
    config_ = model::SmolVLMConfig::load(model_dir);
    int64_t frame_pool = 0;
    std::string trained_decision = "heads";
    if (std::filesystem::exists(std::filesystem::path(model_dir) / model::kProspectConfigFile)) {
      model::ProspectConfig pc = model::ProspectConfig::load(model_dir);
      frame_pool = pc.frame_pool;
      trained_decision = pc.raw.value("decision", std::string("heads"));
    }
    std::string dec = decision.empty() ? trained_decision : decision;
    if (dec != "heads" && dec != "tokens")
      fail(file_context(model_dir, "decision"), "decision '" + dec + "' is neither heads nor tokens",
           "model.decision of docs/DECISIONS.md: heads or tokens");
    tok_ = std::make_shared<text::Tokenizer>(text::Tokenizer::load(
        tokenizer_path.empty() ? (std::filesystem::path(model_dir) / "tokenizer.json").string()
                               : tokenizer_path));
    data::RenderOptions ro;
    ro.image_seq_len = static_cast<int>(config_.is_llama_features() ? config_.frame_tokens
                                        : frame_pool > 0            ? frame_pool * frame_pool
                                                                    : config_.tokens_per_frame());
    ro.max_seq_len = max_seq_len;
    ro.frame_stride = frame_stride;
    ro.context_frames = context_frames;
    ro.neg_frame_sampling_rate = neg_frame_sampling_rate;
    ro.anchor_jitter = anchor_jitter;
    ro.refresh_cut_rate = refresh_cut_rate;
    ro.seed = seed;
    ro.decision_tokens = dec == "tokens";
    renderer_ = std::make_unique<data::ClipRenderer>(*tok_, ro);
    pad_id_ = static_cast<int32_t>(config_.pad_token_id());
  }

  const data::RenderOptions& options() const { return renderer_->options(); }
  const model::SmolVLMConfig& config() const { return config_; }
  const text::Tokenizer& tokenizer() const { return *tok_; }
  std::shared_ptr<text::Tokenizer> tokenizer_ptr() const { return tok_; }
  int32_t pad_id() const { return pad_id_; }
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t e) { epoch_ = e; }

  int num_sub_clips(const data::Clip& clip) const {
    return static_cast<int>(renderer_->render(clip, epoch_).size());
  }

  // The samples of `items` (SubClip: one piece; Clip: every piece), in order, with each row's frames root.
  std::vector<data::Sample> samples_of(const py::sequence& items, std::vector<std::string>* roots) const {
    std::vector<data::Sample> out;
    for (py::handle h : items) {
      if (py::isinstance<SubClip>(h)) {
        const SubClip& s = h.cast<const SubClip&>();
        std::vector<data::Sample> pieces = renderer_->render(*s.clip, epoch_);
        if (s.sub_clip < 0 || s.sub_clip >= static_cast<int>(pieces.size()))
          fail(data::clip_context(*s.clip, "sub_clip"),
               "sub-clip " + std::to_string(s.sub_clip) + " asked for, the clip renders into " +
                   std::to_string(pieces.size()) + " with these options",
               "make the Dataset with the same collator (its data.* options decide the splitting)");
        out.push_back(std::move(pieces[static_cast<size_t>(s.sub_clip)]));
        roots->push_back(root_for(*s.clip, s.frames_root));
      } else if (py::isinstance<data::Clip>(h)) {
        const data::Clip& c = h.cast<const data::Clip&>();
        for (data::Sample& s : renderer_->render(c, epoch_)) {
          out.push_back(std::move(s));
          roots->push_back(root_for(c, ""));
        }
      } else {
        throw py::type_error(
            "Collator: items must be prospect.Clip or prospect.SubClip (a prospect.Dataset's "
            "items), got " +
            std::string(py::str(py::type::of(h).attr("__name__"))));
      }
    }
    if (out.empty()) fail("Collator: no items to collate", "pass a non-empty list of clips or sub-clips");
    return out;
  }

  py::dict collate(const py::sequence& items) {
    std::vector<std::string> roots;
    std::vector<data::Sample> samples = samples_of(items, &roots);
    data::Batch b = data::make_batch(samples, pad_id_);
    std::map<std::pair<std::string, int64_t>, std::string> root_of;
    for (size_t i = 0; i < samples.size(); ++i)
      root_of[{samples[i].source_file, samples[i].index_in_file}] = roots[i];
    auto row_root = [root_of](const data::SampleInfo& info) {
      auto it = root_of.find({info.source_file, info.index_in_file});
      return it == root_of.end() ? folder_of(info.source_file) : it->second;
    };
    bool features = config_.is_llama_features();
    if (load_frames_ && !b.frames.empty()) {
      if (features) {
        data::load_batch_features(
            b, [this, row_root](const data::SampleInfo& info, const std::vector<int64_t>& frames) {
              return feature_loader(row_root(info))(info, frames);
            });
      } else {
        data::load_batch_pixels(
            b, [this, row_root](const data::SampleInfo& info, const std::vector<int64_t>& frames) {
              return pixel_loader(row_root(info))(info, frames);
            });
      }
    }
    data::Batch no_frames;
    const data::Batch* conv = &b;
    if (!load_frames_) {
      // Labels and ids only: to_batch_tensors insists on pixels for frame blocks, so convert a frameless
      // copy.
      no_frames = b;
      no_frames.frames.clear();
      conv = &no_frames;
    }
    train::BatchTensors t =
        train::to_batch_tensors(*conv, features ? 0 : config_.vision.image_size, at::kCPU, at::kFloat);
    py::dict d;
    d["input_ids"] = tensor_to_py(t.input_ids);
    d["attention_mask"] = tensor_to_py(t.attention_mask);
    // SmolVLMForConditionalGeneration's labels: every learned token (assistant and DST messages).
    at::Tensor labels = at::where(t.lm_labels != data::kIgnoreIndex, t.lm_labels, t.dst_labels);
    d["labels"] = tensor_to_py(labels);
    d["lm_labels"] = tensor_to_py(t.lm_labels);
    d["dst_labels"] = tensor_to_py(t.dst_labels);
    d["speak_labels"] = tensor_to_py(t.speak_labels);
    d["dst_update_labels"] = tensor_to_py(t.dst_update_labels);
    d["speak_positions"] = tensor_to_py(t.speak_positions);
    d["speak_targets"] = tensor_to_py(t.speak_targets);
    d["dst_positions"] = tensor_to_py(t.dst_positions);
    d["dst_targets"] = tensor_to_py(t.dst_targets);
    if (renderer_->options().decision_tokens) {
      const int64_t B = b.batch_size, T = b.seq_len;
      at::Tensor dt = at::empty({B, T}, at::kLong);
      int64_t* p = dt.data_ptr<int64_t>();
      for (int64_t i = 0; i < B * T; ++i) p[i] = b.decision_targets[static_cast<size_t>(i)];
      d["decision_targets"] = tensor_to_py(dt);
      d["speak_target_ids"] = tensor_to_py(t.speak_target_ids);
      d["dst_target_ids"] = tensor_to_py(t.dst_target_ids);
    }
    if (load_frames_ && !features && t.pixel_values.defined()) {
      d["pixel_values"] = tensor_to_py(hf_pixel_layout(b, t.pixel_values));
    }
    if (load_frames_ && features && t.frame_features.defined()) {
      d["frame_features"] = tensor_to_py(t.frame_features);
    }
    return d;
  }

  // One sample's streams as lists (inspection, tests): ids, the four label streams, decisions, frames.
  py::list render(const data::Clip& clip) const {
    py::list out;
    for (const data::Sample& s : renderer_->render(clip, epoch_)) {
      py::dict d;
      d["sub_clip"] = s.sub_clip;
      d["num_sub_clips"] = s.num_sub_clips;
      d["input_ids"] = s.input_ids;
      d["lm_labels"] = s.lm_labels;
      d["dst_labels"] = s.dst_labels;
      d["speak_labels"] = s.speak_labels;
      d["dst_update_labels"] = s.dst_update_labels;
      d["decision_targets"] = s.decision_targets;
      d["frames"] = s.frames;
      py::list dec;
      for (const data::DecisionPoint& p : s.decisions) {
        py::dict dp;
        dp["position"] = p.position;
        dp["speak_position"] = p.speak_position;
        dp["frame"] = p.frame;
        dp["speak"] = p.speak;
        dp["dst_update"] = p.dst_update;
        dec.append(dp);
      }
      d["decisions"] = dec;
      d["first_frame"] = s.first_frame;
      d["last_frame"] = s.last_frame;
      d["initial_state"] = state_to_py(s.initial_state);
      out.append(d);
    }
    return out;
  }

  std::string render_text(const data::Clip& clip) const {
    return data::render_clip_text(clip, renderer_->options());
  }

 private:
  std::string root_for(const data::Clip& clip, const std::string& item_root) const {
    if (!frames_root_.empty()) return frames_root_;
    if (!item_root.empty()) return item_root;
    return folder_of(clip.source_file);
  }
  const data::PixelLoader& pixel_loader(const std::string& root) {
    auto it = pixels_.find(root);
    if (it == pixels_.end()) it = pixels_.emplace(root, data::frame_store_pixel_loader(root)).first;
    return it->second;
  }
  const data::FeatureLoader& feature_loader(const std::string& root) {
    auto it = features_.find(root);
    if (it == features_.end()) it = features_.emplace(root, data::feature_store_loader(root)).first;
    return it->second;
  }
  // [N, 3, S, S] in batch frame order -> [B, max frames per row, 3, S, S], all-zero images as padding (what
  // transformers' SmolVLM drops).
  static at::Tensor hf_pixel_layout(const data::Batch& b, const at::Tensor& px) {
    std::vector<int64_t> count(static_cast<size_t>(b.batch_size), 0);
    for (const data::BatchFrame& f : b.frames) ++count[static_cast<size_t>(f.sample)];
    int64_t n_max = 0;
    for (int64_t c : count) n_max = std::max(n_max, c);
    at::Tensor out = at::zeros({b.batch_size, n_max, px.size(1), px.size(2), px.size(3)}, px.options());
    std::vector<int64_t> slot(static_cast<size_t>(b.batch_size), 0);
    for (size_t i = 0; i < b.frames.size(); ++i) {
      int64_t r = b.frames[i].sample;
      out[r][slot[static_cast<size_t>(r)]++].copy_(px[static_cast<int64_t>(i)]);
    }
    return out;
  }

  model::SmolVLMConfig config_;
  std::shared_ptr<text::Tokenizer> tok_;
  std::unique_ptr<data::ClipRenderer> renderer_;
  std::string frames_root_;
  int64_t epoch_ = 0;
  bool load_frames_ = true;
  int32_t pad_id_ = 0;
  std::map<std::string, data::PixelLoader> pixels_;
  std::map<std::string, data::FeatureLoader> features_;
};

}  // namespace

void register_data(py::module_& m) {
  py::class_<data::Clip, ClipHolder>(m, "Clip",
                                     "One clip read from a DST clip file or ProAssist samples file.")
      .def_readonly("source_file", &data::Clip::source_file)
      .def_readonly("index_in_file", &data::Clip::index_in_file)
      .def_property_readonly(
          "format",
          [](const data::Clip& c) { return c.format == data::ClipFormat::Dst ? "dst" : "proassist"; })
      .def_readonly("video_uid", &data::Clip::video_uid)
      .def_readonly("dataset", &data::Clip::dataset)
      .def_readonly("clip_idx", &data::Clip::clip_idx)
      .def_readonly("frames_file", &data::Clip::frames_file)
      .def_readonly("features_file", &data::Clip::features_file)
      .def_readonly("start_frame", &data::Clip::start_frame)
      .def_readonly("end_frame", &data::Clip::end_frame)
      .def_readonly("fps", &data::Clip::fps)
      .def_readonly("system_prompt", &data::Clip::system_prompt)
      .def_property_readonly("num_turns", [](const data::Clip& c) { return c.turns.size(); })
      .def_property_readonly("steps",
                             [](const data::Clip& c) {
                               py::list l;
                               for (const data::Step& s : c.steps) l.append(py::make_tuple(s.id, s.name));
                               return l;
                             })
      .def_property_readonly("initial_state",
                             [](const data::Clip& c) { return state_to_py(c.initial_state); })
      .def("__repr__", [](const data::Clip& c) {
        return "<prospect.Clip " + c.video_uid + "#" + std::to_string(c.clip_idx) + " frames [" +
               std::to_string(c.start_frame) + ", " + std::to_string(c.end_frame) + ") of " + c.source_file +
               ">";
      });

  m.def(
      "read_clips", [](py::object path) { return hold(data::read_clips(fspath(path))); }, py::arg("path"),
      "Every clip of a DST clip file or ProAssist samples file (JSON array, object or JSONL), in file "
      "order.\n"
      "Raises ProspectError naming file, clip, video_uid, turn and field on the first unusable record.");
  m.def(
      "read_clips_from_string",
      [](const std::string& text, const std::string& origin) {
        return hold(data::read_clips_from_string(text, origin));
      },
      py::arg("text"), py::arg("origin") = "<string>",
      "read_clips on text in memory; `origin` names it in errors.");
  m.def("_validate", &validate, py::arg("paths"), py::arg("strict") = false);

  py::class_<text::Tokenizer, std::shared_ptr<text::Tokenizer>>(
      m, "Tokenizer", "A Hugging Face tokenizer.json, read by Prospect.")
      .def(py::init([](py::object path) {
             return std::make_shared<text::Tokenizer>(text::Tokenizer::load(fspath(path)));
           }),
           py::arg("path"), "Reads tokenizer.json; raises ProspectError for a file Prospect cannot read.")
      .def(
          "encode",
          [](const text::Tokenizer& t, const std::string& text, bool add_special_tokens) {
            return t.encode(text, nullptr, add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = false,
          "Token ids of `text` (HF encode(text, add_special_tokens=...)).")
      .def("decode", &text::Tokenizer::decode, py::arg("ids"), py::arg("skip_special_tokens") = false,
           "The text of `ids` (HF decode).")
      .def(
          "token_to_id", [](const text::Tokenizer& t, const std::string& s) { return t.token_to_id(s); },
          py::arg("token"), "Id of a token string, or -1.")
      .def("id_to_token", &text::Tokenizer::id_to_token, py::arg("id"), "Token string of an id, or ''.")
      .def_property_readonly("vocab_size", &text::Tokenizer::vocab_size)
      .def("__len__", &text::Tokenizer::vocab_size);

  py::class_<SubClip>(m, "SubClip",
                      "One (sub-)clip of a Dataset: a clip, which piece of it, its frames root.")
      .def(py::init([](ClipHolder clip, int sub_clip, std::string frames_root) {
             return SubClip{std::move(clip), sub_clip, std::move(frames_root)};
           }),
           py::arg("clip"), py::arg("sub_clip") = 0, py::arg("frames_root") = "")
      .def_readonly("clip", &SubClip::clip)
      .def_readonly("sub_clip", &SubClip::sub_clip)
      .def_readonly("frames_root", &SubClip::frames_root)
      .def("__repr__", [](const SubClip& s) {
        return "<prospect.SubClip " + s.clip->video_uid + "#" + std::to_string(s.clip->clip_idx) + " piece " +
               std::to_string(s.sub_clip) + ">";
      });

  py::class_<CollatorCore>(m, "_CollatorCore")
      .def(py::init<const std::string&, const std::string&, const std::string&, int64_t, int, int, double,
                    double, double, uint64_t, const std::string&, int64_t, bool>(),
           py::arg("model_dir"), py::arg("tokenizer"), py::arg("frames_root"), py::arg("max_seq_len"),
           py::arg("frame_stride"), py::arg("context_frames"), py::arg("neg_frame_sampling_rate"),
           py::arg("anchor_jitter"), py::arg("refresh_cut_rate"), py::arg("seed"), py::arg("decision"),
           py::arg("epoch"), py::arg("load_frames"))
      .def("collate", &CollatorCore::collate)
      .def("render", &CollatorCore::render)
      .def("render_text", &CollatorCore::render_text)
      .def("num_sub_clips", &CollatorCore::num_sub_clips)
      .def_property("epoch", &CollatorCore::epoch, &CollatorCore::set_epoch)
      .def_property_readonly("tokenizer", &CollatorCore::tokenizer_ptr)
      .def_property_readonly("pad_id", &CollatorCore::pad_id)
      .def_property_readonly("image_seq_len", [](const CollatorCore& c) { return c.options().image_seq_len; })
      .def_property_readonly("decision_tokens",
                             [](const CollatorCore& c) { return c.options().decision_tokens; })
      .def_property_readonly("image_size", [](const CollatorCore& c) { return c.config().vision.image_size; })
      .def_property_readonly(
          "family", [](const CollatorCore& c) { return model::model_family_name(c.config().family); });
}

}  // namespace prospect::py_bind
