// SVG charts and the demo report's inputs (see report.h).
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/strformat.h"
#include "data/dst_state.h"

namespace prospect::eval {

namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                         "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string num(double v) { return strformat("%.4g", v); }

std::string fixed(double v) { return strformat("%.1f", v); }

}  // namespace

std::string svg_line_chart(const std::vector<Series>& series, const std::string& title,
                           const std::string& x_label, const std::string& y_label, bool log_y) {
  const double W = 720, H = 400, L = 70, R = 170, T = 40, B = 50;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  auto ty = [&](double y) { return log_y ? std::log10(y) : y; };
  for (const auto& s : series)
    for (auto [x, y] : s.points) {
      if (log_y && y <= 0) continue;
      if (!std::isfinite(y)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, ty(y));
      y1 = std::max(y1, ty(y));
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (1 - (ty(y) - y0) / (y1 - y0)) * (H - T - B); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
       "fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << esc(title)
    << "</text>\n";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (int i = 0; i <= 4; i++) {  // grid and tick labels
    double fy = y0 + (y1 - y0) * i / 4.0;
    double yv = log_y ? std::pow(10.0, fy) : fy;
    double yy = T + (1 - i / 4.0) * (H - T - B);
    o << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << yy << "\" y2=\"" << yy
      << "\" stroke=\"#ddd\"/><text x=\"" << L - 6 << "\" y=\"" << yy + 4 << "\" text-anchor=\"end\">"
      << num(yv) << "</text>\n";
    double xv = x0 + (x1 - x0) * i / 4.0;
    o << "<text x=\"" << px(xv) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << num(xv)
      << "</text>\n";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">" << esc(x_label)
    << "</text>\n";
  o << "<text transform=\"translate(16," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << esc(y_label) << (log_y ? " (log scale)" : "") << "</text>\n";
  for (size_t i = 0; i < series.size(); i++) {
    const char* color = kColors[i % 8];
    std::string pts;
    for (auto [x, y] : series[i].points) {
      if ((log_y && y <= 0) || !std::isfinite(y)) continue;
      pts += fixed(px(x)) + "," + fixed(py(y)) + " ";
    }
    o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"" << pts
      << "\"/>\n";
    double ly = T + 14 + 18 * double(i);
    o << "<line x1=\"" << W - R + 10 << "\" x2=\"" << W - R + 30 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << color << "\" stroke-width=\"2\"/><text x=\"" << W - R + 36 << "\" y=\"" << ly + 4
      << "\">" << esc(series[i].name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string svg_timeline(const data::Clip& clip, const std::vector<TimelineEvent>& predicted) {
  const double W = 1000, L = 150, R = 20, row_h = 70, T = 50;
  const double t0 = clip.start_frame / clip.fps, t1 = std::max(t0 + 1e-9, clip.end_frame / clip.fps);
  auto px = [&](double t) { return L + (t - t0) / (t1 - t0) * (W - L - R); };
  struct Tick {
    double t;
    std::string label;
  };
  std::vector<Tick> rows[4];
  for (const auto& turn : clip.turns) {
    double t = double(turn.anchor_frame) / clip.fps;
    if (turn.role == data::Role::DstUpdate) rows[0].push_back({t, data::format_dst_items(turn.dst_items)});
    if (turn.role == data::Role::Assistant) rows[2].push_back({t, turn.content.substr(0, 18)});
  }
  for (const auto& e : predicted) {
    if (e.type == EventType::DstUpdate)
      rows[1].push_back({e.time, e.text});
    else
      rows[3].push_back({e.time, e.text.substr(0, 18)});
  }
  const char* names[4] = {"reference DST", "predicted DST", "reference speech", "predicted speech"};
  const char* colors[4] = {"#2ca02c", "#1f77b4", "#2ca02c", "#d62728"};
  const double H = T + 4 * row_h + 40;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" "
       "fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << esc(clip.video_uid)
    << " clip " << clip.clip_idx << ": predicted vs reference</text>\n";
  for (int r = 0; r < 4; r++) {
    double y = T + row_h * r + row_h / 2;
    o << "<text x=\"" << L - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\" font-size=\"12\">" << names[r]
      << "</text><line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#ccc\"/>\n";
    for (size_t i = 0; i < rows[r].size(); i++) {
      double x = px(rows[r][i].t);
      double ly = y - 8 - 11 * double(i % 3);  // stagger labels so neighbours stay readable
      o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << y - 6 << "\" y2=\"" << y + 6
        << "\" stroke=\"" << colors[r] << "\" stroke-width=\"2\"/><text x=\"" << x + 2 << "\" y=\"" << ly
        << "\" fill=\"" << colors[r] << "\">" << esc(rows[r][i].label) << "</text>\n";
    }
  }
  double ay = T + 4 * row_h + 10;
  for (int i = 0; i <= 10; i++) {
    double t = t0 + (t1 - t0) * i / 10.0;
    o << "<text x=\"" << px(t) << "\" y=\"" << ay + 12 << "\" text-anchor=\"middle\">" << num(t)
      << "</text>\n";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << ay + 28
    << "\" text-anchor=\"middle\">time (s)</text>\n</svg>\n";
  return o.str();
}

RunCurves read_run_curves(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path + ": cannot open the run's metrics");
  RunCurves rc;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    n++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail(path + ":" + std::to_string(n) + ": malformed JSON line");
    if (!j.contains("step") || !j["step"].is_number()) continue;
    double step = j["step"].get<double>();
    bool val = j.value("split", "") == "val";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_number() || it.key() == "step" || it.key() == "epoch") continue;
      bool val_key = it.key().rfind("val_", 0) == 0;
      auto& dst = (val || val_key) ? rc.val : rc.train;
      std::string name = val_key ? it.key().substr(4) : it.key();
      dst[name].name = name;
      dst[name].points.push_back({step, it.value().get<double>()});
    }
  }
  return rc;
}

}  // namespace prospect::eval
