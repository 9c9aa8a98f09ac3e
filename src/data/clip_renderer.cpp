// Renders a clip as sequence.md §1-§3 describe: the text layout per kept frame, negative subsampling, and
// the tokenized, labelled, possibly split samples. Each segment is tokenized on its own (frame blocks once
// per renderer): segments meet only at special tokens, at ':'|' ' and at '\n'|letter, boundaries that the
// byte-level pre-tokenizer always splits at, so the ids equal tokenizing the whole string (proved by tests).
#include "data/clip_renderer.h"

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/splitmix.h"
#include "data/clip_checks.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace prospect::data {

namespace {

using text::kGlobalImg;
using text::kImStart;
constexpr const char* kEou = text::kEndOfUtterance;
constexpr const char* kFake = text::kFakeTokenAroundImage;
constexpr const char* kImage = text::kImageToken;

// A 64-bit hash as a uniform double in [0, 1) (its top 53 bits).
double unit_draw(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

void check_options(const RenderOptions& opt) {
  if (opt.image_seq_len <= 0)
    fail("image_seq_len must be positive, got " + std::to_string(opt.image_seq_len));
  if (opt.frame_stride <= 0) fail("frame_stride must be positive, got " + std::to_string(opt.frame_stride));
  if (opt.max_seq_len < 0)
    fail("max_seq_len must be 0 (no split) or positive, got " + std::to_string(opt.max_seq_len));
  if (opt.context_frames < 0)
    fail("context_frames must not be negative, got " + std::to_string(opt.context_frames));
  if (!(opt.neg_frame_sampling_rate >= 0.0 && opt.neg_frame_sampling_rate <= 1.0)) {
    fail("neg_frame_sampling_rate must lie in [0, 1], got " + std::to_string(opt.neg_frame_sampling_rate));
  }
  if (!(opt.anchor_jitter >= 0.0 && opt.anchor_jitter <= 1.0)) {
    fail("anchor_jitter must lie in [0, 1], got " + std::to_string(opt.anchor_jitter));
  }
  if (!(opt.refresh_cut_rate >= 0.0 && opt.refresh_cut_rate <= 1.0)) {
    fail("refresh_cut_rate must lie in [0, 1], got " + std::to_string(opt.refresh_cut_rate));
  }
  if (!(opt.own_history_shift >= 0.0 && opt.own_history_shift <= 1.0)) {
    fail("own_history_shift must lie in [0, 1], got " + std::to_string(opt.own_history_shift));
  }
}

}  // namespace

std::string frame_block_text(int image_seq_len) {
  std::string s = std::string(kFake) + kGlobalImg;
  s.reserve(s.size() + static_cast<size_t>(image_seq_len) * 7 + 25);
  for (int i = 0; i < image_seq_len; ++i) s += kImage;
  s += kFake;
  return s;
}

std::string system_message(const Clip& clip, const TaskState& state) {
  std::string s = std::string(kImStart) + "System: " + clip.system_prompt;
  if (!clip.steps.empty()) {
    s += "\n\nTask steps:";
    for (const Step& st : clip.steps) s += "\n" + st.id + ": " + st.name;
    if (!state.all_not_started()) s += "\n\nCurrent state: " + state.format();
  }
  s += kEou;
  return s;
}

ClipLayout layout_clip(const Clip& clip, const RenderOptions& opt) {
  check_options(opt);
  ClipLayout layout;
  layout.has_steps = !clip.steps.empty();
  // Turns by anchor frame, each list in file order.
  std::map<int64_t, std::vector<const Turn*>> by_frame;
  for (const Turn& t : clip.turns) by_frame[t.anchor_frame].push_back(&t);
  std::vector<TaskState> states = states_before_frames(clip);
  const std::string block = frame_block_text(opt.image_seq_len);

  for (int64_t f = clip.start_frame; f < clip.end_frame; ++f) {
    auto it = by_frame.find(f);
    bool anchored = it != by_frame.end();
    if (!anchored && (f - clip.start_frame) % opt.frame_stride != 0) continue;
    FrameUnit u;
    u.frame = f;
    std::vector<const Turn*> none;
    const std::vector<const Turn*>& turns = anchored ? it->second : none;
    // Inputs come before the frame, outputs (state update, then speech) after it.
    for (const Turn* t : turns) {
      if (t->role != Role::User && t->role != Role::System) continue;
      const char* role = t->role == Role::User ? "User: " : "System: ";
      u.segments.push_back({SegmentKind::Input, role + t->content + kEou, t->turn_index});
      u.segments.push_back({SegmentKind::Newline, "\n", -1});
    }
    u.segments.push_back({SegmentKind::FrameBlock, block, -1});
    std::vector<DstItem> items;
    int64_t first_dst_turn = -1;
    for (const Turn* t : turns) {
      if (t->role != Role::DstUpdate) continue;
      if (first_dst_turn < 0) first_dst_turn = t->turn_index;
      for (const DstItem& d : t->dst_items) items.push_back(d);
    }
    if (first_dst_turn >= 0) {
      u.dst_update = true;
      u.segments.push_back({SegmentKind::DstPrefix, "DST_UPDATE:", first_dst_turn});
      u.segments.push_back({SegmentKind::DstBody, " " + format_dst_items(items) + kEou, first_dst_turn});
      u.segments.push_back({SegmentKind::Newline, "\n", -1});
    }
    for (const Turn* t : turns) {
      if (t->role != Role::Assistant) continue;
      u.speak = true;
      u.segments.push_back({SegmentKind::AssistantPrefix, "Assistant:", t->turn_index});
      u.segments.push_back({SegmentKind::AssistantBody, " " + t->content + kEou, t->turn_index});
      u.segments.push_back({SegmentKind::Newline, "\n", -1});
    }
    layout.state_before.push_back(states[static_cast<size_t>(f - clip.start_frame)]);
    layout.units.push_back(std::move(u));
  }
  return layout;
}

std::string render_clip_text(const Clip& clip, const RenderOptions& opt) {
  ClipLayout layout = layout_clip(clip, opt);
  std::string s = system_message(clip, clip.initial_state) + "\n";
  for (const FrameUnit& u : layout.units) {
    for (const Segment& seg : u.segments) s += seg.text;
  }
  return s;
}

uint64_t clip_key(const Clip& clip) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the video id
  for (unsigned char c : clip.video_uid) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h = splitmix64(h ^ static_cast<uint64_t>(clip.clip_idx));
  h = splitmix64(h ^ static_cast<uint64_t>(clip.index_in_file) * kSplitMixGamma);
  // Copies only: an original's key is what it was before copies existed.
  return clip.copy == 0 ? h : splitmix64(h ^ splitmix64(static_cast<uint64_t>(clip.copy) + 0xC0B1ull));
}

std::vector<bool> select_decision_units(const Clip& clip, const ClipLayout& layout, double rate,
                                        uint64_t seed, int64_t epoch) {
  // One uniform draw per frame from (seed, epoch, clip, frame) alone, so the choice for a frame does not
  // depend on the others, on the stride or on the order clips are rendered in.
  uint64_t base =
      splitmix64(splitmix64(seed) ^ splitmix64(static_cast<uint64_t>(epoch) + 0x51ED27ull) ^ clip_key(clip));
  std::vector<bool> keep(layout.units.size(), false);
  bool any_silent = false, kept_silent = false;
  size_t best = 0;
  double best_u = 2.0;
  for (size_t i = 0; i < layout.units.size(); ++i) {
    const FrameUnit& u = layout.units[i];
    if (u.has_output()) {
      keep[i] = true;
      continue;
    }
    any_silent = true;
    double draw = unit_draw(splitmix64(base ^ splitmix64(static_cast<uint64_t>(u.frame))));
    if (draw < rate) {
      keep[i] = true;
      kept_silent = true;
    }
    if (draw < best_u) {
      best_u = draw;
      best = i;
    }
  }
  // At least one negative per clip when it has any: the silent frame with the smallest draw.
  if (any_silent && !kept_silent) keep[best] = true;
  return keep;
}

size_t refresh_cut_unit(const Clip& clip, size_t num_units, double rate, uint64_t seed, int64_t epoch) {
  if (!(rate > 0) || num_units < 2) return 0;
  uint64_t r = splitmix64(splitmix64(seed ^ 0x2EF2E5CCull) ^ splitmix64(static_cast<uint64_t>(epoch) + 0x3u) ^
                          clip_key(clip));
  if (unit_draw(r) >= rate) return 0;
  return 1 + static_cast<size_t>(splitmix64(r) % static_cast<uint64_t>(num_units - 1));
}

// ---- Sample counts
// -----------------------------------------------------------------------------------------

int64_t Sample::speak_pos() const {
  int64_t n = 0;
  for (const auto& d : decisions) n += d.speak == 1;
  return n;
}
int64_t Sample::speak_neg() const {
  int64_t n = 0;
  for (const auto& d : decisions) n += d.speak == 0;
  return n;
}
int64_t Sample::dst_pos() const {
  int64_t n = 0;
  for (const auto& d : decisions) n += d.dst_update == 1;
  return n;
}
int64_t Sample::dst_neg() const {
  int64_t n = 0;
  for (const auto& d : decisions) n += d.dst_update == 0;
  return n;
}
int64_t Sample::lm_tokens() const {
  int64_t n = 0;
  for (int32_t v : lm_labels) n += v != kIgnoreIndex;
  return n;
}
int64_t Sample::dst_tokens() const {
  int64_t n = 0;
  for (int32_t v : dst_labels) n += v != kIgnoreIndex;
  return n;
}

// ---- ClipRenderer
// ------------------------------------------------------------------------------------------

ClipRenderer::ClipRenderer(const text::Tokenizer& tok, RenderOptions opt) : tok_(&tok), opt_(opt) {
  check_options(opt_);
  for (const char* t : {kImStart, kEou, kFake, kGlobalImg, kImage}) {
    if (tok.token_to_id(t) < 0) {
      fail(std::string("the tokenizer has no token ") + t,
           "SmolVLM2's rendering needs <|im_start|>, <end_of_utterance>, <fake_token_around_image>, "
           "<global-img> and <image>");
    }
  }
  block_ids_ = tok.encode(frame_block_text(opt_.image_seq_len));
  if (block_ids_.size() != static_cast<size_t>(opt_.image_seq_len) + 3 ||
      block_ids_.back() != tok.token_to_id(kFake)) {
    fail("a frame block tokenizes to " + std::to_string(block_ids_.size()) + " tokens, expected " +
         std::to_string(opt_.image_seq_len + 3) + " special tokens");
  }
  newline_ids_ = tok.encode("\n");
  if (opt_.decision_tokens) marks_ = decision_token_ids(tok);
}

DecisionTokenIds decision_token_ids(const text::Tokenizer& tok) {
  DecisionTokenIds d;
  d.silent = tok.token_to_id(kEou);
  std::vector<int32_t> dst = tok.encode("DST_UPDATE:"), speak = tok.encode("Assistant:");
  if (d.silent < 0) fail(std::string("the tokenizer has no token ") + kEou, "decisions as tokens need it");
  if (dst.empty() || speak.empty()) fail("\"DST_UPDATE:\" or \"Assistant:\" tokenizes to nothing");
  d.dst = dst.front();
  d.speak = speak.front();
  if (d.dst == d.speak || d.dst == d.silent || d.speak == d.silent) {
    fail(
        "decisions as tokens need three different first tokens for <end_of_utterance>, \"DST_UPDATE:\" and "
        "\"Assistant:\"; this tokenizer gives ids " +
            std::to_string(d.silent) + ", " + std::to_string(d.dst) + " and " + std::to_string(d.speak),
        "use model.decision = heads with this tokenizer");
  }
  return d;
}

namespace {

// A unit's segments, tokenized.
struct TokenizedUnit {
  std::vector<std::vector<int32_t>> seg_ids;  // per segment (frame blocks: empty, use the block ids)
  int64_t length = 0;
};

// Every unit's text segments tokenized on their own, with each unit's length in tokens (frame blocks and
// newlines counted by their fixed lengths).
std::vector<TokenizedUnit> tokenize_units(const ClipLayout& layout, const text::Tokenizer& tok,
                                          int64_t block_len, int64_t newline_len) {
  std::vector<TokenizedUnit> tu(layout.units.size());
  for (size_t i = 0; i < tu.size(); ++i) {
    const FrameUnit& u = layout.units[i];
    tu[i].seg_ids.resize(u.segments.size());
    for (size_t s = 0; s < u.segments.size(); ++s) {
      const Segment& seg = u.segments[s];
      if (seg.kind == SegmentKind::FrameBlock) {
        tu[i].length += block_len;
      } else if (seg.kind == SegmentKind::Newline) {
        tu[i].length += newline_len;
      } else {
        tu[i].seg_ids[s] = tok.encode(seg.text);
        tu[i].length += static_cast<int64_t>(tu[i].seg_ids[s].size());
      }
    }
  }
  return tu;
}

// The sub-clips of sequence.md §3 as unit ranges [begin, end): each starts with its system message and
// newline (`head_len` of the state there) and up to context_frames earlier frame blocks, and fits
// max_seq_len (0: one piece). Throws prospect::Error naming the clip when one unit alone does not fit.
template <typename HeadLen>
std::vector<std::pair<size_t, size_t>> split_pieces(const Clip& clip, const ClipLayout& layout,
                                                    const std::vector<TokenizedUnit>& tu,
                                                    const RenderOptions& opt, int64_t block_len,
                                                    HeadLen head_len) {
  const size_t n = layout.units.size();
  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < n;) {
    size_t ctx = std::min(static_cast<size_t>(opt.context_frames), i);
    int64_t total = head_len(layout.state_before[i]) + static_cast<int64_t>(ctx) * block_len;
    size_t j = n;
    if (opt.max_seq_len > 0) {
      j = i;
      size_t last_output_end = i;  // one past the last unit with an output that fits
      while (j < n && total + tu[j].length <= opt.max_seq_len) {
        total += tu[j].length;
        if (layout.units[j].has_output()) last_output_end = j + 1;
        ++j;
      }
      if (j == i) {
        ErrorContext c = clip_context(clip);
        fail(c,
             "frame " + std::to_string(layout.units[i].frame) + " with its turns needs " +
                 std::to_string(total + tu[i].length) +
                 " tokens (system message and context included), more "
                 "than max_seq_len " +
                 std::to_string(opt.max_seq_len),
             "raise max_seq_len or lower image_seq_len");
      }
      // Cut after the last output that fits; a silent stretch that alone overflows is cut where it overflows.
      if (j < n && last_output_end > i) j = last_output_end;
    }
    pieces.emplace_back(i, j);
    i = j;
  }
  return pieces;
}

}  // namespace

namespace {

// How move_output_groups picks and places groups: the salts of its draws, and the two ways the augmentations
// that use it differ.
struct GroupMoves {
  uint64_t seed_salt = 0, epoch_salt = 0;
  bool skip_groups_with_inputs = false;  // a group with a user or system turn stays where it is
  bool vacated_stays_taken = false;      // no later group may move into a frame a group left
};

// Moves, in `c`, each frame's group of turns that holds an output (assistant or DST_UPDATE turn) one frame
// earlier or later with probability `prob`, drawn per (seed, epoch, clip, frame): odd draws move later. A
// group moves only into a frame of the clip that holds no turns, so groups keep their order. Returns the
// moves as (from, to) frames, in frame order.
std::vector<std::pair<int64_t, int64_t>> move_output_groups(Clip& c, double prob, uint64_t seed,
                                                            int64_t epoch, const GroupMoves& how) {
  std::vector<std::pair<int64_t, int64_t>> moves;
  if (!(prob > 0)) return moves;
  std::map<int64_t, std::vector<size_t>> by_frame;  // anchor frame -> turn indices, file order
  for (size_t i = 0; i < c.turns.size(); ++i) by_frame[c.turns[i].anchor_frame].push_back(i);
  std::set<int64_t> occupied;
  for (const auto& [f, idx] : by_frame) occupied.insert(f);
  uint64_t base = splitmix64(splitmix64(seed ^ how.seed_salt) ^
                             splitmix64(static_cast<uint64_t>(epoch) + how.epoch_salt) ^ clip_key(c));
  for (const auto& [f, idx] : by_frame) {
    bool output = false, input = false;
    for (size_t i : idx) {
      const Role r = c.turns[i].role;
      if (r == Role::Assistant || r == Role::DstUpdate)
        output = true;
      else
        input = true;
    }
    if (!output || (input && how.skip_groups_with_inputs)) continue;
    uint64_t r = splitmix64(base ^ splitmix64(static_cast<uint64_t>(f)));
    if (unit_draw(r) >= prob) continue;
    const int64_t to = (r & 1) ? f + 1 : f - 1;
    if (to < c.start_frame || to >= c.end_frame || occupied.count(to)) continue;
    if (!how.vacated_stays_taken) occupied.erase(f);
    occupied.insert(to);
    for (size_t i : idx) c.turns[i].anchor_frame = to;
    moves.emplace_back(f, to);
  }
  return moves;
}

}  // namespace

Clip jitter_anchors(const Clip& clip, double prob, uint64_t seed, int64_t epoch) {
  Clip out = clip;
  move_output_groups(out, prob, seed, epoch, GroupMoves{0x4A177E5ull, 0x7u, false, false});
  return out;
}

ShiftedHistory shift_own_history(const Clip& clip, double prob, uint64_t seed, int64_t epoch) {
  ShiftedHistory out;
  out.clip = clip;
  // What the user said is not the model's to move; a vacated frame keeps the labels of the group that left it
  // (a silent decision, or none), so no other group may take it.
  for (const auto& [from, to] :
       move_output_groups(out.clip, prob, seed, epoch, GroupMoves{0x0B5E55EDull, 0x11u, true, true})) {
    if (to < from) {
      out.context_only.insert(to);
      out.force_decision.insert(from);
    } else {
      out.no_decision.insert(from);
    }
  }
  return out;
}

std::vector<Sample> ClipRenderer::render(const Clip& clip_in, int64_t epoch, double neg_rate) const {
  if (neg_rate > 1.0) fail("neg_frame_sampling_rate must lie in [0, 1], got " + std::to_string(neg_rate));
  Clip jittered;
  const bool jitter = opt_.anchor_jitter > 0;
  if (jitter) jittered = jitter_anchors(clip_in, opt_.anchor_jitter, opt_.seed, epoch);
  ShiftedHistory shifted;
  const bool shift = opt_.own_history_shift > 0;
  if (shift)
    shifted = shift_own_history(jitter ? jittered : clip_in, opt_.own_history_shift, opt_.seed, epoch);
  const Clip& clip = shift ? shifted.clip : jitter ? jittered : clip_in;
  ClipLayout layout = layout_clip(clip, opt_);
  const int64_t block_len = static_cast<int64_t>(block_ids_.size());

  std::vector<TokenizedUnit> tu =
      tokenize_units(layout, *tok_, block_len, static_cast<int64_t>(newline_ids_.size()));

  // System messages depend only on the state, which changes at a handful of frames: tokenize each once.
  std::map<std::string, std::vector<int32_t>> system_cache;
  auto system_ids = [&](const TaskState& st) -> const std::vector<int32_t>& {
    std::string text = system_message(clip, st);
    auto it = system_cache.find(text);
    if (it == system_cache.end()) it = system_cache.emplace(text, tok_->encode(text)).first;
    return it->second;
  };

  // Pieces [begin, end) of units, by sequence.md §3.
  auto head_len = [&](const TaskState& st) {
    return static_cast<int64_t>(system_ids(st).size() + newline_ids_.size());
  };
  std::vector<std::pair<size_t, size_t>> pieces = split_pieces(clip, layout, tu, opt_, block_len, head_len);
  // A refresh cut: drop the units before the cut; the one piece left starts with the state there.
  int64_t cut_frame = -1;
  if (opt_.refresh_cut_rate > 0 && pieces.size() == 1) {
    const size_t c = refresh_cut_unit(clip, layout.units.size(), opt_.refresh_cut_rate, opt_.seed, epoch);
    if (c > 0) {
      cut_frame = layout.units[c].frame;
      layout.units.erase(layout.units.begin(), layout.units.begin() + static_cast<std::ptrdiff_t>(c));
      layout.state_before.erase(layout.state_before.begin(),
                                layout.state_before.begin() + static_cast<std::ptrdiff_t>(c));
      tu.erase(tu.begin(), tu.begin() + static_cast<std::ptrdiff_t>(c));
      pieces = split_pieces(clip, layout, tu, opt_, block_len, head_len);
    }
  }
  std::vector<bool> decision = select_decision_units(
      clip, layout, neg_rate >= 0 ? neg_rate : opt_.neg_frame_sampling_rate, opt_.seed, epoch);
  std::vector<bool> context_only(layout.units.size(), false);
  if (shift) {
    for (size_t i = 0; i < layout.units.size(); ++i) {
      const int64_t f = layout.units[i].frame;
      if (shifted.force_decision.count(f)) decision[i] = true;
      if (shifted.no_decision.count(f)) decision[i] = false;
      if (shifted.context_only.count(f)) {
        decision[i] = false;
        context_only[i] = true;
      }
    }
  }

  const int32_t ignore = kIgnoreIndex;
  std::vector<Sample> out;
  out.reserve(pieces.size());
  for (size_t p = 0; p < pieces.size(); ++p) {
    auto [b, e] = pieces[p];
    Sample s;
    s.source_file = clip.source_file;
    s.index_in_file = clip.index_in_file;
    s.video_uid = clip.video_uid;
    s.dataset = clip.dataset;
    s.frames_file = clip.frames_file;
    s.features_file = clip.features_file;
    s.clip_idx = clip.clip_idx;
    s.sub_clip = static_cast<int>(p);
    s.num_sub_clips = static_cast<int>(pieces.size());
    s.refresh_cut = cut_frame;
    s.initial_state = layout.state_before[b];
    s.has_steps = layout.has_steps;
    s.first_frame = layout.units[b].frame;
    s.last_frame = layout.units[e - 1].frame;

    auto append = [&](const std::vector<int32_t>& ids, const std::string& text,
                      std::vector<int32_t>* learned) {
      for (int32_t id : ids) {
        s.input_ids.push_back(id);
        s.lm_labels.push_back(learned == &s.lm_labels ? id : ignore);
        s.dst_labels.push_back(learned == &s.dst_labels ? id : ignore);
        s.speak_labels.push_back(ignore);
        s.dst_update_labels.push_back(ignore);
        if (opt_.decision_tokens) s.decision_targets.push_back(ignore);
      }
      if (opt_.keep_text) s.text += text;
    };
    const std::string block_text = opt_.keep_text ? frame_block_text(opt_.image_seq_len) : std::string();

    const TaskState& st = layout.state_before[b];
    append(system_ids(st), opt_.keep_text ? system_message(clip, st) : std::string(), nullptr);
    append(newline_ids_, "\n", nullptr);
    size_t ctx = std::min(static_cast<size_t>(opt_.context_frames), b);
    for (size_t c = b - ctx; c < b; ++c) {
      append(block_ids_, block_text, nullptr);
      s.frames.push_back(layout.units[c].frame);
    }
    s.context_frames = static_cast<int>(ctx);

    for (size_t i = b; i < e; ++i) {
      const FrameUnit& u = layout.units[i];
      // With decision tokens, a decision point on a frame with a DST update reads its speaking decision at
      // the end of the DST message (the newline after its body).
      bool speak_after_dst = false;
      for (size_t k = 0; k < u.segments.size(); ++k) {
        const Segment& seg = u.segments[k];
        switch (seg.kind) {
          case SegmentKind::FrameBlock: {
            append(block_ids_, block_text, nullptr);
            s.frames.push_back(u.frame);
            if (decision[i]) {
              DecisionPoint d;
              d.position = static_cast<int64_t>(s.input_ids.size()) - 1;
              d.frame = u.frame;
              d.speak = u.speak ? 1 : 0;
              d.dst_update = layout.has_steps ? (u.dst_update ? 1 : 0) : ignore;
              d.speak_position = d.position;
              s.dst_update_labels.back() = d.dst_update;
              if (!opt_.decision_tokens) {
                s.speak_labels.back() = d.speak;
              } else if (d.dst_update == 1) {
                s.decision_targets.back() = marks_.dst;
                speak_after_dst = true;
              } else {
                s.speak_labels.back() = d.speak;
                s.decision_targets.back() = d.speak ? marks_.speak : marks_.silent;
              }
              s.decisions.push_back(d);
            }
            break;
          }
          case SegmentKind::Newline:
            append(newline_ids_, seg.text, nullptr);
            if (speak_after_dst && k > 0 && u.segments[k - 1].kind == SegmentKind::DstBody) {
              DecisionPoint& d = s.decisions.back();
              d.speak_position = static_cast<int64_t>(s.input_ids.size()) - 1;
              s.speak_labels.back() = d.speak;
              s.decision_targets.back() = d.speak ? marks_.speak : marks_.silent;
              speak_after_dst = false;
            }
            break;
          case SegmentKind::DstBody:
            if (context_only[i]) {
              append(tu[i].seg_ids[k], seg.text, nullptr);
              break;
            }
            append(tu[i].seg_ids[k], seg.text, &s.dst_labels);
            ++s.dst_messages;
            break;
          case SegmentKind::AssistantBody:
            if (context_only[i]) {
              append(tu[i].seg_ids[k], seg.text, nullptr);
              break;
            }
            append(tu[i].seg_ids[k], seg.text, &s.lm_labels);
            ++s.lm_messages;
            break;
          default:
            append(tu[i].seg_ids[k], seg.text, nullptr);
            break;
        }
      }
    }
    // First and last labelled frame (sequence.md §6): the decision points after subsampling; a sub-clip
    // without any keeps its first and last own frame.
    if (!s.decisions.empty()) {
      s.first_frame = s.decisions.front().frame;
      s.last_frame = s.decisions.back().frame;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace prospect::data
