// Hours-long synthetic videos (see synth_long.h).
#include "synth/synth_long.h"

#include <cctype>
#include <climits>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "core/error.h"
#include "core/strformat.h"
#include "core/text_file.h"
#include "data/arrow_writer.h"
#include "data/base64.h"
#include "data/feature_store.h"
#include "synth/synth_features.h"
#include "vision/jpeg.h"

namespace prospect::synth {

namespace fs = std::filesystem;

namespace {

// Video indices of the long video's tasks: far above any dataset's, so no task repeats a dataset video.
constexpr int kTaskIndexBase = 1000000;

struct Task {
  SynthVideo video;  // frames local to the task
  int offset = 0;    // its first video frame
  int length = 0;    // frames of the task and its idle stretch
};

// The task's only clip moved to video frames [offset, offset + length) of the long video.
nlohmann::json place_clip(const Task& t, int clip_idx, const std::string& uid, const std::string& frames_file,
                          double fps) {
  nlohmann::json c = t.video.clips.at(0);
  const double dt = t.offset / fps;
  c["video_uid"] = uid;
  c["clip_idx"] = clip_idx;
  c["frames_file"] = frames_file;
  c["start_frame_idx"] = t.offset;
  c["end_frame_idx"] = t.offset + t.length;
  for (auto& st : c["dst"]) {
    st["start_ts"] = st["start_ts"].get<double>() + dt;
    st["end_ts"] = st["end_ts"].get<double>() + dt;
  }
  for (auto& turn : c["conversation"]) {
    if (!turn.contains("time")) continue;  // the system message keeps its [0, 1) span, as synth writes it
    turn["time"] = turn["time"].get<double>() + dt;
    turn["start_frame"] = turn["start_frame"].get<int>() + t.offset;
    turn["end_frame"] = turn["end_frame"].get<int>() + t.offset;
  }
  return c;
}

}  // namespace

LongVideoSummary write_long_video(const std::string& out_dir, const SynthDatasetOptions& data,
                                  const LongVideoOptions& opt) {
  if (!(opt.minutes > 0)) fail("--long-video-minutes must be positive, got " + std::to_string(opt.minutes));
  if (opt.idle_min < 0 || opt.idle_max < opt.idle_min)
    fail("--long-idle-min/--long-idle-max must satisfy 0 <= min <= max, got " + std::to_string(opt.idle_min) +
         " and " + std::to_string(opt.idle_max));
  if (opt.name.empty() || opt.name.find_first_of("/\\") != std::string::npos)
    fail("--long-name must be a plain file name, got '" + opt.name + "'");
  if (!vision::jpeg_available())
    fail("prospect synth needs JPEG encoding, and this build has no libjpeg-turbo (run scripts/setup.sh)");
  const double fps = data.video.fps;
  const int target = static_cast<int>(std::lround(opt.minutes * 60.0 * fps));

  // One clip per task: the generator's clip splitting off.
  SynthOptions vo = data.video;
  vo.max_clip_frames = INT_MAX;
  SynthGenerator gen(vo, data.seed);
  const std::string uid =
      strformat("synth_%llu_%s", static_cast<unsigned long long>(data.seed % 100000), opt.name.c_str());
  const std::string frames_file = "frames/" + opt.name + "_0.arrow";
  const std::string features_file = "frames/" + opt.name + "_0.features.safetensors";

  // Plan the tasks (dialogs only: a few KB each). The last task's idle stretch is cut at the target length;
  // a task that would not fit whole gives its frames to the previous one's idle stretch instead.
  Rng idle_rng(data.seed ^ 0x6C6F6E675F766964ull);  // "long_vid"
  std::vector<Task> tasks;
  int offset = 0;
  while (offset < target) {
    Task t;
    t.video = gen.make_video(kTaskIndexBase + static_cast<int>(tasks.size()), frames_file);
    t.offset = offset;
    const int idle = idle_rng.uniform_int(opt.idle_min, opt.idle_max);
    if (offset + t.video.num_frames > target) {
      if (tasks.empty())
        fail("--long-video-minutes " + std::to_string(opt.minutes) + " gives " + std::to_string(target) +
                 " frames, fewer than the first task's " + std::to_string(t.video.num_frames),
             "ask for a longer video");
      tasks.back().length += target - offset;
      break;
    }
    t.length = std::min(t.video.num_frames + idle, target - offset);
    offset += t.length;
    tasks.push_back(std::move(t));
  }

  fs::path root(out_dir);
  std::error_code ec;
  fs::create_directories(root / "frames", ec);
  if (ec) fail(out_dir + ": cannot create the dataset folder: " + ec.message());

  LongVideoSummary sum;
  nlohmann::json clips = nlohmann::json::array();
  for (size_t i = 0; i < tasks.size(); i++) {
    nlohmann::json c = place_clip(tasks[i], static_cast<int>(i), uid, frames_file, fps);
    if (data.features) c["features_file"] = features_file;
    for (const auto& turn : c["conversation"]) {
      sum.turns++;
      if (turn["role"] == "DST_UPDATE") {
        sum.dst_updates++;
        for (const auto& item : turn["content"]) sum.pauses += item["transition"] == "pause";
      }
      if (turn["role"] == "user" && turn["labels"] == "user|question") sum.questions++;
    }
    sum.longest_clip = std::max(sum.longest_clip, tasks[i].length);
    clips.push_back(std::move(c));
  }
  sum.clips = static_cast<int>(tasks.size());
  sum.frames = target;

  // Frames, 16 rows per record batch, rendered as they are written.
  std::unique_ptr<SynthFeatureEncoder> encoder;
  safetensors::DType feature_dtype = safetensors::DType::F32;
  std::vector<float> features;
  if (data.features) {
    encoder = std::make_unique<SynthFeatureEncoder>(data.feature_tokens, data.feature_dim);
    std::string dt = data.feature_dtype;
    for (char& ch : dt) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (dt != "F32" && dt != "F16" && dt != "BF16")
      fail("--feature-dtype must be F32, F16 or BF16, got '" + data.feature_dtype + "'");
    feature_dtype = safetensors::parse_dtype(dt);
    features.assign(size_t(target) * encoder->tokens() * encoder->dim(), 0.f);
  }
  std::vector<data::ArrowField> fields(1);
  fields[0].name = "frame";
  fields[0].type_id = static_cast<int>(data::ArrowType::Utf8);
  const std::string hf = R"({"info": {"features": {"frame": {"dtype": "string", "_type": "Value"}}}})";
  sum.frames_path = (root / frames_file).string();
  data::ArrowWriter w(sum.frames_path, fields, {{"huggingface", hf}});
  std::vector<std::vector<std::string>> cols(1);
  int f = 0;
  for (const Task& t : tasks) {
    for (int local = 0; local < t.length; local++, f++) {
      const vision::Image img = gen.render_frame(t.video, local);
      cols[0].push_back(data::base64_encode(vision::encode_jpeg(img, data.jpeg_quality)));
      if (encoder) encoder->encode(img, features.data() + size_t(f) * encoder->tokens() * encoder->dim());
      if (cols[0].size() == 16 || f + 1 == target) {
        w.write_batch(cols);
        cols[0].clear();
      }
    }
  }
  w.finish();
  if (encoder) {
    std::vector<int64_t> frame_index(static_cast<size_t>(target));
    for (int i = 0; i < target; i++) frame_index[size_t(i)] = i;
    std::map<std::string, std::string> meta = encoder->metadata();
    meta["video_uid"] = uid;
    sum.features_path = (root / features_file).string();
    data::write_feature_file(sum.features_path, frame_index, features, encoder->tokens(), encoder->dim(),
                             feature_dtype, meta);
  }
  sum.clips_path = (root / (opt.name + ".json")).string();
  write_text_file(sum.clips_path, clips.dump(1) + "\n");
  return sum;
}

}  // namespace prospect::synth
