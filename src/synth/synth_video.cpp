// Procedural task videos and their DST dialogs (see synth_video.h).
#include "synth/synth_video.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/strformat.h"

namespace prospect::synth {

namespace {

struct Palette {
  const char* name;
  uint8_t rgb[3];
};
const Palette kColors[] = {{"red", {220, 40, 40}},     {"blue", {40, 70, 220}},
                           {"green", {40, 170, 60}},   {"yellow", {230, 200, 30}},
                           {"purple", {150, 60, 190}}, {"orange", {240, 130, 20}}};
const char* kObjects[] = {"toy car", "toy crane", "toy tractor", "robot", "birdhouse", "toy boat"};
const char* kParts[] = {"base", "wheel", "cabin", "arm", "roof", "door", "panel", "axle"};
const char* kVerbs[] = {"Attach", "Mount", "Fix", "Place"};

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = char(s[0] - 'A' + 'a');
  return s;
}

}  // namespace

uint8_t paused_shade(uint8_t channel) { return uint8_t(channel * 2 / 5); }
uint8_t paused_view_shade(uint8_t channel) { return uint8_t(channel / 2); }

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  Rng r(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull));
  return r.next();
}

// One turn of the dialog before it is placed in a clip.
struct Event {
  int frame;
  int order;  // within a frame: user 0, DST_UPDATE 1, assistant 2 (file order)
  std::string role;
  std::string content;              // user / assistant
  std::string step_id, transition;  // DST_UPDATE
  std::string labels;
};

// The `n` steps of a video: names, colours, frame timing and board positions. Sets `goal_frame` (an idle
// frame before the first step) and returns the last step's complete frame.
int make_steps(const SynthOptions& opt, Rng& rng, int n, int& goal_frame, SynthVideo& v) {
  const int S = opt.image_size;
  // Distinct colours and parts per step.
  int color_order[6] = {0, 1, 2, 3, 4, 5};
  int part_order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int i = 5; i > 0; i--) std::swap(color_order[i], color_order[rng.uniform_int(0, i)]);
  for (int i = 7; i > 0; i--) std::swap(part_order[i], part_order[rng.uniform_int(0, i)]);

  const int part = std::max(4, S / 8);
  int f = rng.uniform_int(3, 5);  // idle frames before the first step (the goal is stated in them)
  goal_frame = rng.uniform_int(1, f - 1);
  for (int k = 0; k < n; k++) {
    SynthStep st;
    st.id = "S" + std::to_string(k + 1);
    const Palette& c = kColors[color_order[k % 6]];
    st.name =
        std::string(kVerbs[rng.uniform_int(0, 3)]) + " the " + c.name + " " + kParts[part_order[k % 8]] + ".";
    std::copy(c.rgb, c.rgb + 3, st.color);
    if (k > 0) f += rng.uniform_int(0, 3);  // gap after the previous step (0: same frame)
    st.start_frame = f;
    int active = rng.uniform_int(4, 7);
    int paused_for = 0;
    if (active >= 5 && rng.uniform() < opt.pause_probability) {
      st.pause_frame = f + rng.uniform_int(2, active - 2);
      paused_for = rng.uniform_int(2, 4);
      st.resume_frame = st.pause_frame + paused_for;
    }
    st.complete_frame = f + active + paused_for;
    f = st.complete_frame;
    int span = S - 2 * 2;
    st.slot_x = 2 + (span * k) / n + (span / n - part) / 2;
    st.slot_y = S - part - 3;
    st.from_x = rng.uniform_int(1, S - part - 1);
    st.from_y = rng.uniform_int(1, S / 4);
    v.steps.push_back(st);
  }
  return f;
}

// The dialog as events on frames, sorted by frame then in-frame order (consumes `rng` for the questions).
std::vector<Event> make_events(const SynthOptions& opt, Rng& rng, const SynthVideo& v, int goal_frame,
                               const char* object) {
  std::vector<Event> ev;
  const std::string first = lower_first(v.steps[0].name);
  ev.push_back({goal_frame, 0, "user", "I want to " + v.goal + ".", "", "", "user|goal"});
  ev.push_back(
      {goal_frame, 2, "assistant", "Sure, let's " + v.goal + ". First, " + first, "", "", "assistant|plan"});
  for (const SynthStep& st : v.steps) {
    ev.push_back({st.start_frame, 1, "DST_UPDATE", "", st.id, "start", "initiative|dst_update,dst_start"});
    ev.push_back(
        {st.start_frame, 2, "assistant", "Now " + lower_first(st.name), "", "", "initiative|instruction"});
    if (st.pause_frame >= 0) {
      ev.push_back({st.pause_frame, 1, "DST_UPDATE", "", st.id, "pause", "initiative|dst_update,dst_pause"});
      ev.push_back(
          {st.resume_frame, 1, "DST_UPDATE", "", st.id, "resume", "initiative|dst_update,dst_resume"});
    }
    ev.push_back(
        {st.complete_frame, 1, "DST_UPDATE", "", st.id, "complete", "initiative|dst_update,dst_complete"});
    // A question somewhere inside the step, away from its transitions: the words never reveal them.
    if (st.complete_frame - st.start_frame >= 4 && rng.uniform() < opt.question_probability) {
      int q = rng.uniform_int(st.start_frame + 1, st.complete_frame - 2);
      if (q != st.pause_frame && q != st.resume_frame) {
        ev.push_back({q, 0, "user", "What should I do now?", "", "", "user|question"});
        ev.push_back({q, 2, "assistant", "Keep going: " + lower_first(st.name), "", "", "responsive|answer"});
      }
    }
  }
  ev.push_back({v.steps.back().complete_frame, 2, "assistant",
                std::string("Well done, the ") + object + " is finished!", "", "", "initiative|feedback"});
  std::stable_sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
    return a.frame != b.frame ? a.frame < b.frame : a.order < b.order;
  });
  return ev;
}

// Clip boundaries: cut at a step start near the middle while a piece is longer than max_clip_frames, so
// every clip begins with a timed turn (which carries the earlier clips' progress in its dst_state).
std::vector<int> clip_cuts(const SynthOptions& opt, const SynthVideo& v) {
  std::vector<int> cuts = {0};
  int begin = 0;
  while (v.num_frames - begin > opt.max_clip_frames) {
    int best = -1;
    int target = begin + std::min(opt.max_clip_frames, (v.num_frames - begin) / 2 + 1);
    for (const auto& st : v.steps)
      if (st.start_frame > begin + 4 && st.start_frame <= target &&
          (best < 0 || std::abs(st.start_frame - target) < std::abs(best - target)))
        best = st.start_frame;
    if (best < 0) break;
    cuts.push_back(best);
    begin = best;
  }
  cuts.push_back(v.num_frames);
  return cuts;
}

// One clip per piece between cuts; dst_state before each turn: every step touched so far (this turn's
// included), as the real data lists it.
void make_clips(const SynthOptions& opt, const std::vector<Event>& ev, const std::vector<int>& cuts,
                const std::string& frames_file, SynthVideo& v) {
  nlohmann::json dst = nlohmann::json::array();
  for (const auto& st : v.steps)
    dst.push_back({{"type", "step"},
                   {"id", st.id},
                   {"start_ts", (st.start_frame + 0.5) / opt.fps},
                   {"end_ts", (st.complete_frame + 0.5) / opt.fps},
                   {"name", st.name}});

  std::map<std::string, std::string> state;
  std::vector<std::string> touched;
  size_t e = 0;
  for (size_t c = 0; c + 1 < cuts.size(); c++) {
    nlohmann::json conv = nlohmann::json::array();
    conv.push_back({{"role", "system"},
                    {"content", "You are a helpful and proactive assistant."},
                    {"start_frame", 0},
                    {"end_frame", 1},
                    {"labels", "system|generic"}});
    for (; e < ev.size() && ev[e].frame < cuts[c + 1]; e++) {
      const Event& x = ev[e];
      if (!x.step_id.empty() && std::find(touched.begin(), touched.end(), x.step_id) == touched.end()) {
        touched.push_back(x.step_id);
        state[x.step_id] = "not_started";
      }
      nlohmann::json ds = nlohmann::json::object();
      for (const auto& id : touched) ds[id] = state[id];
      double t = (x.frame + 0.5) / opt.fps;  // centred window [f-1, f+1): anchor f
      nlohmann::json turn = {{"role", x.role},           {"time", t},       {"start_frame", x.frame - 1},
                             {"end_frame", x.frame + 1}, {"dst_state", ds}, {"labels", x.labels}};
      if (x.role == "DST_UPDATE") {
        turn["content"] = nlohmann::json::array({{{"id", x.step_id}, {"transition", x.transition}}});
        static const std::map<std::string, std::string> to = {{"start", "in_progress"},
                                                              {"complete", "completed"},
                                                              {"pause", "paused"},
                                                              {"resume", "in_progress"}};
        state[x.step_id] = to.at(x.transition);
      } else {
        turn["content"] = x.content;
      }
      conv.push_back(turn);
    }
    v.clips.push_back({{"video_uid", v.video_uid},
                       {"dataset", "synth"},
                       {"clip_idx", int(c)},
                       {"frames_file", frames_file},
                       {"start_frame_idx", cuts[c]},
                       {"end_frame_idx", cuts[c + 1]},
                       {"fps", opt.fps},
                       {"inferred_goal", v.goal},
                       {"dst", dst},
                       {"conversation", conv}});
  }
}

}  // namespace

SynthVideo SynthGenerator::make_video(int index, const std::string& frames_file) const {
  SynthVideo v;
  v.seed = mix(seed_, uint64_t(index));
  Rng rng(v.seed);
  v.video_uid = strformat("synth_%llu_%04d", static_cast<unsigned long long>(seed_ % 100000), index);
  const int n = rng.uniform_int(opt_.min_steps, opt_.max_steps);
  const char* object = kObjects[rng.uniform_int(0, 5)];
  v.goal = std::string("build the ") + object;

  int goal_frame = 0;
  const int last = make_steps(opt_, rng, n, goal_frame, v);
  v.num_frames = last + rng.uniform_int(3, 5);
  if (opt_.idle_tail_max > 0) v.num_frames += Rng(mix(v.seed, 0x7A11ull)).uniform_int(0, opt_.idle_tail_max);

  const std::vector<Event> ev = make_events(opt_, rng, v, goal_frame, object);
  make_clips(opt_, ev, clip_cuts(opt_, v), frames_file, v);
  return v;
}

vision::Image SynthGenerator::render_frame(const SynthVideo& v, int f) const {
  const int S = opt_.image_size;
  vision::Image img;
  img.height = img.width = S;
  img.rgb.assign(size_t(S) * S * 3, 0);
  Rng r(mix(v.seed, uint64_t(f) + 1000003));
  const int jx = r.uniform_int(-1, 1), jy = r.uniform_int(-1, 1);  // camera jitter
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++) {
      int noise = int(r.next() % 13) - 6;
      uint8_t* p = &img.rgb[(size_t(y) * S + x) * 3];
      p[0] = uint8_t(196 + noise);
      p[1] = uint8_t(196 + noise);
      p[2] = uint8_t(186 + noise);
    }
  auto rect = [&](int x0, int y0, int w, int h, const uint8_t* c) {
    for (int y = y0 + jy; y < y0 + jy + h; y++)
      for (int x = x0 + jx; x < x0 + jx + w; x++) {
        if (x < 0 || y < 0 || x >= S || y >= S) continue;
        uint8_t* p = &img.rgb[(size_t(y) * S + x) * 3];
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
      }
  };
  const int part = std::max(4, S / 8);
  // Empty slots: faint outlines, so the layout is constant and only the parts change.
  const uint8_t slot_c[3] = {170, 170, 165};
  for (const auto& st : v.steps) {
    rect(st.slot_x - 1, st.slot_y - 1, part + 2, 1, slot_c);
    rect(st.slot_x - 1, st.slot_y + part, part + 2, 1, slot_c);
  }
  // Distractor: a grey dot wandering on a smooth path.
  {
    double a = double(v.seed % 1000) / 159.0 + f * 0.45;
    int dx = int(S / 2 + (S / 3) * std::sin(a)), dy = int(S / 2 + (S / 5) * std::cos(1.3 * a));
    const uint8_t grey[3] = {110, 110, 110};
    rect(dx, dy, 2, 2, grey);
  }
  const uint8_t hand[3] = {235, 180, 140};
  const uint8_t border[3] = {20, 20, 20};
  bool any_paused = false;
  for (const auto& st : v.steps) {
    if (f < st.start_frame) continue;
    if (f >= st.complete_frame) {
      rect(st.slot_x - 1, st.slot_y - 1, part + 2, part + 2, border);
      rect(st.slot_x, st.slot_y, part, part, st.color);
      continue;
    }
    // In progress or paused: the part travels from where it appeared towards its slot, never reaching it.
    bool paused = st.pause_frame >= 0 && f >= st.pause_frame && f < st.resume_frame;
    int active_total =
        st.complete_frame - st.start_frame - (st.pause_frame >= 0 ? st.resume_frame - st.pause_frame : 0);
    int active_done = f - st.start_frame;
    if (st.pause_frame >= 0 && f >= st.pause_frame)
      active_done -= std::min(f, st.resume_frame) - st.pause_frame;
    double frac = 0.8 * double(active_done) / double(std::max(1, active_total));
    int px = int(std::lround(st.from_x + frac * (st.slot_x - st.from_x)));
    int py = int(std::lround(st.from_y + frac * (st.slot_y - st.from_y)));
    uint8_t c[3] = {st.color[0], st.color[1], st.color[2]};
    if (paused) {
      // Put down: the part darkens to its own hue where it stopped (never grey, so it cannot pass for the
      // distractor), and the hand leaves it to rest at the middle of the left edge.
      for (uint8_t& ch : c) ch = paused_shade(ch);
      rect(0, S / 2 - 3, 3, 6, hand);
    }
    rect(px, py, part, part, c);
    if (!paused) rect(px + part, py + part / 2, 3, 3, hand);
    any_paused |= paused;
  }
  if (opt_.pause_view && any_paused) {
    for (uint8_t& ch : img.rgb) ch = paused_view_shade(ch);
  }
  return img;
}

}  // namespace prospect::synth
