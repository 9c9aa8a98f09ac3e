// The demo report's pieces: run curves read from metrics.jsonl, and SVG charts that contain what they were
// given (one polyline vertex per finite point, one tick per event).
#include "eval/report.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "test_util.h"

using namespace prospect;

namespace {
size_t count(const std::string& s, const std::string& piece) {
  size_t n = 0;
  for (size_t at = s.find(piece); at != std::string::npos; at = s.find(piece, at + 1)) n++;
  return n;
}
}  // namespace

TEST(Report, RunCurvesSplitTrainAndValidation) {
  std::string path = test::unique_temp_path("metrics.jsonl");
  {
    std::ofstream f(path);
    for (int s = 1; s <= 10; s++)
      f << "{\"step\": " << s << ", \"epoch\": 0, \"loss\": " << 1.0 / s << ", \"lm_loss\": 0.5}\n";
    f << "\n{\"step\": 10, \"split\": \"val\", \"loss\": 0.3}\n{\"step\": 10, \"val_speak_f1\": 0.9}\n";
  }
  auto rc = eval::read_run_curves(path);
  std::printf("train series %zu (loss %zu points), val series %zu\n", rc.train.size(),
              rc.train["loss"].points.size(), rc.val.size());
  EXPECT_EQ(rc.train.size(), 2u);
  EXPECT_EQ(rc.train["loss"].points.size(), 10u);
  EXPECT_DOUBLE_EQ(rc.train["loss"].points[3].second, 0.25);
  EXPECT_EQ(rc.val["loss"].points.size(), 1u);
  EXPECT_EQ(rc.val["speak_f1"].points.size(), 1u);
  { std::ofstream(path, std::ios::app) << "{not json\n"; }
  EXPECT_THROW(eval::read_run_curves(path), Error);
}

TEST(Report, LineChartDrawsEveryFinitePoint) {
  eval::Series a{"a", {{1, 1.0}, {2, 0.5}, {3, 0.25}}}, b{"b", {{1, 2.0}, {2, 0.0}, {3, 1.0}}};
  std::string svg = eval::svg_line_chart({a, b}, "t", "step", "loss", /*log_y=*/true);
  // On a log scale b's zero is skipped: 3 + 2 vertices.
  size_t commas = 0;
  for (size_t at = svg.find("points=\""); at != std::string::npos; at = svg.find("points=\"", at + 1)) {
    size_t end = svg.find('"', at + 8);
    commas += count(svg.substr(at, end - at), ",");
  }
  std::printf("polylines %zu, vertices %zu (expected 2, 5)\n", count(svg, "<polyline"), commas);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(commas, 5u);
  EXPECT_EQ(svg.rfind("</svg>"), svg.size() - 7);
}

TEST(Report, TimelineHasATickPerEvent) {
  data::Clip clip;
  clip.video_uid = "v";
  clip.start_frame = 0;
  clip.end_frame = 20;
  clip.fps = 2;
  data::Turn t;
  t.role = data::Role::DstUpdate;
  t.anchor_frame = 4;
  t.dst_items = {{"S1", data::Transition::Start}};
  clip.turns.push_back(t);
  t.role = data::Role::Assistant;
  t.content = "Now <go> & see";
  clip.turns.push_back(t);
  std::vector<eval::TimelineEvent> pred(3);
  pred[0].type = eval::EventType::DstUpdate;
  pred[0].text = "S1->start";
  pred[0].time = 2.5;
  pred[1].type = pred[2].type = eval::EventType::Speak;
  pred[1].text = pred[2].text = "hi";
  std::string svg = eval::svg_timeline(clip, pred);
  size_t ticks = count(svg, "stroke-width=\"2\"/>");
  std::printf("ticks %zu (expected 5)\n", ticks);
  EXPECT_EQ(ticks, 5u);
  EXPECT_NE(svg.find("Now &lt;go&gt; &amp; see"), std::string::npos);  // text is escaped
}
