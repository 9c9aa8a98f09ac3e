// `prospect report`: turns a finished run into metrics.json and a Markdown report with SVG plots (loss
// curves per term, and a predicted-vs-reference timeline of one test clip).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "command.h"
#include "core/config.h"
#include "core/error.h"
#include "core/strformat.h"
#include "core/text_file.h"
#include "data/clip_reader.h"
#include "eval/report.h"
#include "eval/timeline.h"

namespace {

struct ReportArgs {
  std::string run, data, timeline, eval_json, out;
  int clip = -1;
  double wall_seconds = -1;
};

std::string fmt(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  return prospect::strformat("%.3f", v.get<double>());
}

prospect::tools::Command reg(
    "report", "Write metrics.json and a Markdown report with loss and timeline plots for a finished run",
    [](CLI::App& sub) {
      auto a = std::make_shared<ReportArgs>();
      sub.add_option("--run", a->run, "Run directory of `prospect train` (reads its metrics.jsonl)")
          ->required();
      sub.add_option("--data", a->data, "The evaluated data file (DST clips)")->required();
      sub.add_option("--timeline", a->timeline, "Predicted timeline (JSONL) of `prospect eval --model`")
          ->required();
      sub.add_option("--eval", a->eval_json, "The --json output of `prospect eval`")->required();
      sub.add_option("--out", a->out, "Folder for metrics.json, report.md and the SVG plots")->required();
      sub.add_option("--clip", a->clip,
                     "Clip to draw on the timeline (default: the clip with most DST updates)");
      sub.add_option("--wall-seconds", a->wall_seconds,
                     "Wall time of the whole run, recorded in metrics.json");
      return [a]() -> int {
        namespace fs = std::filesystem;
        using namespace prospect;
        fs::create_directories(a->out);
        auto clips = data::read_clips(a->data);
        if (clips.empty()) fail(a->data + ": no clips to report on");
        auto events = eval::read_timeline(a->timeline, clips);
        nlohmann::json ev = read_json_file(a->eval_json);

        // Loss curves: every loss term of training, and validation loss terms when present.
        auto curves = eval::read_run_curves(a->run + "/metrics.jsonl");
        std::vector<eval::Series> train, val;
        for (auto& [k, s] : curves.train)
          if (k.find("loss") != std::string::npos) train.push_back(s);
        for (auto& [k, s] : curves.val)
          if (k.find("loss") != std::string::npos) val.push_back(s);
        prospect::write_text_file(a->out + "/loss.svg", eval::svg_line_chart(train, "Training loss per term",
                                                                             "step", "loss", true));
        if (!val.empty())
          prospect::write_text_file(
              a->out + "/val_loss.svg",
              eval::svg_line_chart(val, "Validation loss per term", "step", "loss", true));

        int pick = a->clip;
        if (pick < 0) {
          size_t best = 0;
          for (size_t i = 0; i < clips.size(); i++) {
            size_t n = 0;
            for (const auto& t : clips[i].turns) n += t.role == data::Role::DstUpdate;
            if (n > best) best = n, pick = int(i);
          }
          if (pick < 0) pick = 0;
        }
        if (pick >= int(clips.size()))
          fail("--clip " + std::to_string(pick) + " is past the data's " + std::to_string(clips.size()) +
               " clips");
        std::vector<eval::TimelineEvent> mine;
        for (const auto& e : events)
          if (e.clip == pick) mine.push_back(e);
        prospect::write_text_file(a->out + "/timeline.svg", eval::svg_timeline(clips[pick], mine));

        nlohmann::json m = {{"dst_transition_f1", ev["dst_transition"]["f1"]},
                            {"speaking_f1", ev["speaking"]["f1"]},
                            {"state_accuracy", ev["state_accuracy"]},
                            {"joint_state_accuracy", ev["joint_state_accuracy"]},
                            {"wall_seconds", a->wall_seconds >= 0 ? nlohmann::json(a->wall_seconds)
                                                                  : nlohmann::json(nullptr)}};
        prospect::write_text_file(a->out + "/metrics.json", m.dump(2) + "\n");

        std::ostringstream md;
        md << "# Prospect demo report\n\n"
           << "Synthetic task videos, a small SmolVLM trained from scratch on CPU, streaming evaluation on "
              "the "
              "test split (`"
           << a->data << "`, " << clips.size() << " clips).\n\n"
           << "| metric | value |\n|---|---|\n"
           << "| DST transition F1 | " << fmt(m["dst_transition_f1"]) << " |\n"
           << "| speaking timing F1 | " << fmt(m["speaking_f1"]) << " |\n"
           << "| state accuracy | " << fmt(m["state_accuracy"]) << " |\n"
           << "| joint state accuracy | " << fmt(m["joint_state_accuracy"]) << " |\n"
           << "| wall seconds | " << fmt(m["wall_seconds"]) << " |\n\n"
           << "Full evaluation: `" << ev.dump() << "`\n\n"
           << "## Training loss\n\n![training loss](loss.svg)\n\n";
        if (!val.empty()) md << "## Validation loss\n\n![validation loss](val_loss.svg)\n\n";
        md << "## Timeline of test clip " << pick << " (" << clips[pick].video_uid << ")\n\n"
           << "![timeline](timeline.svg)\n";
        prospect::write_text_file(a->out + "/report.md", md.str());
        std::printf("%s\n", m.dump().c_str());
        std::fprintf(stderr, "report: %s/report.md, %s/metrics.json\n", a->out.c_str(), a->out.c_str());
        return 0;
      };
    });

}  // namespace
