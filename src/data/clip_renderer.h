// Rendering of one clip into SmolVLM2's chat format with four label streams (sequence.md §1-§3): the text
// layout (token-free, as a list of segments per kept frame), negative frame subsampling, splitting of
// over-long clips with the state carried into each sub-clip, and the tokenized samples. Token ids equal
// tokenizing the whole rendered string at once (segments only ever meet at a special token, at ':'|' ' or at
// '\n'|letter, where byte-level BPE never merges; tests/data/clip_renderer_test.cpp proves it on the
// samples). Not here: batching and padding (batch.h), threads (loader.h), pixels (frame_store.h).
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "data/clip.h"

namespace prospect::text {
class Tokenizer;
}

namespace prospect::data {

constexpr int32_t kIgnoreIndex = -100;

struct RenderOptions {
  int image_seq_len = 81;                // K: <image> tokens per frame block
  int frame_stride = 1;                  // keep every s-th frame (anchor frames always kept)
  int64_t max_seq_len = 4096;            // split longer clips; 0 never splits
  int context_frames = 0;                // bare frame blocks repeated before each sub-clip after the first
  double neg_frame_sampling_rate = 1.0;  // rho: probability of keeping a silent frame as a decision point
  uint64_t seed = 0;
  // Training augmentation: probability that a frame's group of turns (one with an assistant or DST_UPDATE
  // turn) moves one frame earlier or later, drawn per (seed, epoch, clip, frame), so the model also sees an
  // update already made a frame before the visual change and learns not to repeat it. 0 (off) for validation.
  double anchor_jitter = 0.0;
  bool keep_text = false;  // fill Sample::text (inspect, tests)
  // Decisions as next-token targets (docs/DECISIONS.md) instead of head labels only: every decision point
  // also gets a target token in Sample::decision_targets, and a frame with a DST update moves its speaking
  // decision to the last token of the DST message (where the model then chooses to speak or stay silent).
  bool decision_tokens = false;
  // Training augmentation for streams that refresh their context (docs/TRAINING.md): probability that a clip
  // is cut at a random kept frame, drawn per (seed, epoch, clip), and rendered from there as a refreshed
  // stream starts (StreamEngine::start_context): the system message with the state at the cut (`Current
  // state: ...`), then the frames from the cut on. Only clips that max_seq_len does not split are cut (the
  // later pieces of a split clip already start that way), so sample counts stay the same every epoch. 0: off.
  double refresh_cut_rate = 0.0;
  // Training augmentation against exposure bias (docs/TRAINING.md, "Own-history shifts"): probability that a
  // frame's group of output turns (DST update and/or assistant turn) appears one frame early or late in the
  // context only, as the model's own early or late output would when it streams, drawn per (seed, epoch,
  // clip, frame). Early (f -> f-1): the moved turns carry no labels and f-1 is no decision point; frame f
  // becomes a silent decision point (the update is already made: do not repeat it). Late (f -> f+1): frame f
  // is no decision point (the change was missed there) and frame f+1 learns the update (catch up). 0: off.
  double own_history_shift = 0.0;
};

// The three tokens a decision chooses between when decisions are tokens: stay silent (<end_of_utterance>),
// write a DST update (the first token of "DST_UPDATE:") or speak (the first token of "Assistant:").
struct DecisionTokenIds {
  int32_t silent = -1, dst = -1, speak = -1;
};
// The ids for `tok`. Throws prospect::Error when a token is missing or two of the three coincide.
DecisionTokenIds decision_token_ids(const text::Tokenizer& tok);

// ---- token-free layout ----------------------------------------------------------------------------------

enum class SegmentKind {
  System,           // "<|im_start|>System: ...<end_of_utterance>" (the opening message)
  Input,            // "User: ...<end_of_utterance>" or a later "System: ...<end_of_utterance>"
  FrameBlock,       // "<fake_token_around_image><global-img><image>xK<fake_token_around_image>"
  DstPrefix,        // "DST_UPDATE:" (not learned: the head decides it)
  DstBody,          // " S1->complete, S2->start<end_of_utterance>" (dst_labels)
  AssistantPrefix,  // "Assistant:" (not learned)
  AssistantBody,    // " {content}<end_of_utterance>" (lm_labels)
  Newline,          // "\n" after every message
};

struct Segment {
  SegmentKind kind = SegmentKind::Input;
  std::string text;
  int64_t turn_index = -1;  // the (first) turn it renders; -1 for frame blocks and newlines
};

// One kept frame with the messages anchored at it, in rendering order.
struct FrameUnit {
  int64_t frame = 0;
  bool speak = false;       // an assistant turn is anchored here
  bool dst_update = false;  // a DST_UPDATE turn is anchored here
  std::vector<Segment> segments;
  bool has_output() const { return speak || dst_update; }
};

struct ClipLayout {
  std::vector<FrameUnit> units;         // kept frames, in order
  std::vector<TaskState> state_before;  // per unit: the state before its own updates
  bool has_steps = false;
};

// The layout of the whole clip. Throws prospect::Error when image_seq_len or frame_stride is not positive.
ClipLayout layout_clip(const Clip& clip, const RenderOptions& opt);

// "<|im_start|>System: {prompt}\n\nTask steps:\nS1: ...[\n\nCurrent state: ...]<end_of_utterance>" for a
// sub-clip starting in `state` (the "\n" after it is a separate segment).
std::string system_message(const Clip& clip, const TaskState& state);

// The text of one frame block with K <image> tokens.
std::string frame_block_text(int image_seq_len);

// The whole rendered string of `clip`, unsplit, every frame a decision point or not (labels do not change
// the text).
std::string render_clip_text(const Clip& clip, const RenderOptions& opt);

// A stable key for (video_uid, clip_idx, position in its file): what negative subsampling depends on.
uint64_t clip_key(const Clip& clip);

// Which units are decision points: every unit with an output, and each silent unit with probability `rate`,
// drawn from (seed, epoch, clip_key, frame) only; at least one silent unit when the clip has any.
std::vector<bool> select_decision_units(const Clip& clip, const ClipLayout& layout, double rate,
                                        uint64_t seed, int64_t epoch);

// A copy of `clip` whose output groups moved under RenderOptions::anchor_jitter `prob`. A group moves only to
// an adjacent frame inside the clip that holds no turns (after earlier moves), so groups keep their order and
// the states the turns produce stay the same. prob = 0 returns the clip unchanged.
Clip jitter_anchors(const Clip& clip, double prob, uint64_t seed, int64_t epoch);

// RenderOptions::own_history_shift: a copy of `clip` with some output groups moved one frame early or late,
// and what that means for the labels, by frame. A group moves only to an adjacent frame inside the clip that
// holds no turns and held none before (vacated frames stay taken), so groups keep their order, the states the
// turns produce stay the same, and the three sets never share a frame. Groups with a user turn stay. prob = 0
// returns the clip unchanged and empty sets.
struct ShiftedHistory {
  Clip clip;
  std::set<int64_t> context_only;    // frames whose output turns are context, not targets (no decision)
  std::set<int64_t> no_decision;     // frames that are no decision point (a late group's true frame)
  std::set<int64_t> force_decision;  // frames that are always a (silent) decision point (an early group's)
};
ShiftedHistory shift_own_history(const Clip& clip, double prob, uint64_t seed, int64_t epoch);

// The unit a refresh cut starts at for (seed, epoch, clip) among `num_units` kept frames: 0 (no cut) with
// probability 1 - rate, else uniform in [1, num_units - 1] (0 when the clip has fewer than two units).
size_t refresh_cut_unit(const Clip& clip, size_t num_units, double rate, uint64_t seed, int64_t epoch);

// ---- tokenized samples ----------------------------------------------------------------------------------

struct DecisionPoint {
  int64_t position = 0;  // index in input_ids: the last token of the frame's block
  // Where the speaking decision is read: `position`, or with decision tokens on a frame with a DST update,
  // the last token of its DST message.
  int64_t speak_position = 0;
  int64_t frame = 0;
  int32_t speak = 0;                  // 1 / 0
  int32_t dst_update = kIgnoreIndex;  // 1 / 0, or kIgnoreIndex when the clip has no steps
};

// One (sub-)clip as a training sequence. Labels are aligned with input_ids (the model shifts).
struct Sample {
  // Which clip this came from (enough to fetch frames and to report).
  std::string source_file;
  int64_t index_in_file = 0;
  std::string video_uid;
  std::string dataset;
  std::string frames_file;
  std::string features_file;  // empty when the clip names none
  int64_t clip_idx = 0;
  int sub_clip = 0;  // 0-based piece of a split clip
  int num_sub_clips = 1;
  int64_t refresh_cut = -1;  // RenderOptions::refresh_cut_rate: the frame the clip was cut at, or -1

  std::vector<int32_t> input_ids;
  std::vector<int32_t> lm_labels;          // input id or kIgnoreIndex
  std::vector<int32_t> dst_labels;         // input id or kIgnoreIndex
  std::vector<int32_t> speak_labels;       // 1 / 0 / kIgnoreIndex
  std::vector<int32_t> dst_update_labels;  // 1 / 0 / kIgnoreIndex
  // With RenderOptions::decision_tokens: the decision's target token id at decision positions (silent, DST
  // or speak marker, DecisionTokenIds), kIgnoreIndex elsewhere; empty otherwise.
  std::vector<int32_t> decision_targets;

  std::vector<int64_t> frames;  // frame index of every frame block, in order (context frames first)
  int context_frames = 0;       // how many of `frames` are bare context blocks
  std::vector<DecisionPoint> decisions;
  TaskState initial_state;
  bool has_steps = false;
  // First and last labelled frame (decision point) of this sub-clip, inclusive; without decision points, its
  // first and last own frame (never context frames).
  int64_t first_frame = 0, last_frame = 0;
  int64_t lm_messages = 0, dst_messages = 0;
  std::string text;  // the rendered string, when RenderOptions::keep_text

  int64_t speak_pos() const;
  int64_t speak_neg() const;
  int64_t dst_pos() const;
  int64_t dst_neg() const;
  int64_t lm_tokens() const;
  int64_t dst_tokens() const;
};

// Renders and tokenizes clips. Holds the tokenizer by reference: it must outlive the renderer.
class ClipRenderer {
 public:
  // Throws prospect::Error when the tokenizer lacks one of the special tokens the format needs, or when an
  // option is out of range.
  ClipRenderer(const text::Tokenizer& tok, RenderOptions opt);

  // The samples of `clip` for `epoch` (one, or one per sub-clip). `neg_rate` >= 0 replaces the options' rho
  // for this clip (the trainer's schedule over updates). Throws prospect::Error naming the clip and frame
  // when one frame block with its turns cannot fit in max_seq_len.
  std::vector<Sample> render(const Clip& clip, int64_t epoch = 0, double neg_rate = -1.0) const;

  const RenderOptions& options() const { return opt_; }

 private:
  const text::Tokenizer* tok_;
  RenderOptions opt_;
  std::vector<int32_t> block_ids_;    // one frame block
  std::vector<int32_t> newline_ids_;  // "\n"
  DecisionTokenIds marks_;            // decision_tokens only
};

}  // namespace prospect::data
