// The streaming loop of streaming.md §1 over a KV cache: per kept frame, the input turns anchored there and
// the frame block are appended; the decision heads read the block's last token; when a head fires, the role
// prefix is appended and the reply generated greedily to <end_of_utterance> (DST updates optionally
// grammar-constrained, then applied to the tracked state). What enters the cache is token for token what the
// renderer (data/clip_renderer.h) writes for the same turns: each segment tokenized on its own, and a
// generated message re-fed in its canonical tokenization when greedy decoding chose another split of the
// same text. When the cache nears max_context it is refreshed from the tracked state (a new system message
// with `Current state: ...`) or cut in the middle (system message + the most recent frames, re-fed so RoPE
// positions stay consecutive). A teacher-forced mode appends the reference turns instead of generating
// (parity with one full forward over the rendered clip; debugging).
// Not here: reading frames (frame_features.h), scoring (src/eval), command lines (tools/).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/clip.h"
#include "data/clip_renderer.h"
#include "eval/timeline.h"
#include "model/heads.h"
#include "model/smolvlm.h"
#include "stream/dst_grammar.h"
#include "stream/stream_options.h"

namespace prospect::text {
class Tokenizer;
}

namespace prospect::stream {

// One visited frame: both heads' probabilities and what the reference says happens there.
struct FrameDecision {
  int64_t frame = 0;
  double p_speak = 0, p_dst = 0;
  double logit_speak = 0, logit_dst = 0;  // the heads' raw outputs (p = sigmoid(logit))
  bool fired_speak = false, fired_dst = false;
  int label_speak = 0;  // 1 when an assistant turn is anchored here
  int label_dst = -1;   // 1 / 0 when a DST_UPDATE turn is anchored here; -1 for a clip without steps
};

// One emitted event with the probability of the head that fired it.
struct StreamEvent {
  eval::TimelineEvent event;
  double p = 0;
};

// True when `text` (trimmed) is one or more DST items and nothing else ("S2->complete, S3->start"): an
// utterance that StreamOptions::reroute_dst_speech writes as a DST update instead.
bool is_dst_items(const std::string& text);

struct StreamStats {
  int64_t frames = 0;
  int64_t refreshes = 0;    // context refreshes or middle drops
  int64_t dst_updates = 0;  // DST_UPDATE messages emitted
  int64_t dst_items_applied = 0;
  int64_t dst_items_invalid = 0;  // unparsable or not valid from the tracked state (ignored)
  int64_t dst_skipped = 0;        // head fired but no update came out (nothing valid, or cut off empty)
  int64_t dst_rerouted = 0;       // utterances that were DST items, written as a DST update instead (reroute)
  int64_t dst_abstained = 0;      // updates cut short or dropped by min_reset_prob
  int64_t utterances = 0;
  int64_t generated_tokens = 0;
  int64_t retokenized = 0;  // messages re-fed in their canonical tokenization
  int64_t max_cache_tokens = 0;
  int64_t fed_tokens = 0;        // every token pushed through the decoder (re-feeds included)
  double seconds = 0;            // wall time of the run
  double image_seconds = 0;      // of which reading and encoding frames
  std::vector<double> frame_ms;  // per visited frame: its inputs, decision and any generation
};

struct ClipStreamResult {
  int64_t clip = 0;  // position in the data file
  std::vector<StreamEvent> events;
  std::vector<FrameDecision> decisions;
  data::TaskState final_state;
  std::vector<std::string> log;      // invalid DST items, skipped updates, refreshes
  std::vector<int32_t> context_ids;  // the cache's tokens at the end, with StreamOptions::keep_context_ids
  StreamStats stats;
};

// What the live view hears about as it happens.
struct StreamObserver {
  std::function<void(const StreamEvent&, const data::TaskState& state_after)> on_event;
  std::function<void(const FrameDecision&)> on_frame;
  std::function<void(const std::string& message)> on_log;
};

// Image features [1, K, H] of one frame of the clip being streamed.
using FeatureSource = std::function<at::Tensor(int64_t frame)>;

class StreamEngine {
 public:
  // Holds model, heads and tokenizer by reference: they must outlive the engine. `heads` null: decisions as
  // tokens (docs/DECISIONS.md): after a frame block, p_dst and p_speak are the softmax probabilities of the
  // DST and speak marker tokens; after an emitted DST update, p_speak is read again at the end of its
  // message. Throws prospect::Error when the tokenizer lacks a token the rendering needs or an option is out
  // of range.
  StreamEngine(model::SmolVLM& model, model::DecisionHeads* heads, const text::Tokenizer& tok,
               StreamOptions opt);

  // Streams one clip (at position `clip_position` in its data file) from its initial state. Throws
  // prospect::Error naming the clip when one frame with its turns cannot fit in max_context.
  ClipStreamResult run(const data::Clip& clip, int64_t clip_position, const FeatureSource& features,
                       const StreamObserver* observer = nullptr);

  // The frames a run visits (the renderer's kept frames), in order.
  std::vector<int64_t> planned_frames(const data::Clip& clip) const;

  const StreamOptions& options() const { return opt_; }

 private:
  struct Run;  // per-clip state (cache, history, tracked state)
  at::Tensor feed(Run& r, const std::vector<int32_t>& ids, const at::Tensor& image_features);
  void rewind(Run& r, int64_t length);
  void start_context(Run& r, const data::TaskState& state);
  void make_room(Run& r, int64_t need);
  // Greedy decoding to <end_of_utterance> or max_tokens. Under a grammar, `forced` (when given) gets the
  // byte offset in the text of each non-ending token whose own probability was below
  // StreamOptions::min_reset_prob.
  std::vector<int32_t> generate(Run& r, const at::Tensor& last_hidden, int max_tokens,
                                const DstGrammar* grammar, std::string* text, bool* finished,
                                std::vector<int64_t>* forced = nullptr);
  std::string finish_message(Run& r, int64_t body_start, const std::vector<int32_t>& generated,
                             std::string text);
  // Returns whether a DST update was emitted.
  bool decide_dst(Run& r, int64_t frame, double p);
  // Both decisions' logits at hidden state `h` [1, H]: the heads, or the markers' log-odds.
  std::pair<double, double> decision_logits(const at::Tensor& h);
  // With StreamOptions::reroute_dst_speech, an utterance that is nothing but DST items is taken back; when
  // `may_reroute` (the clip has steps and no DST decision fired at this frame) the frame gets a DST update
  // instead, then one more utterance (dropped if it is DST items again); otherwise it is dropped.
  void decide_speak(Run& r, int64_t frame, double p, bool may_reroute);
  void emit(Run& r, int64_t frame, eval::EventType type, const std::string& text, double p);

  model::SmolVLM* model_;
  model::DecisionHeads* heads_;   // null: decisions as tokens
  data::DecisionTokenIds marks_;  // decisions as tokens only
  const text::Tokenizer* tok_;
  StreamOptions opt_;
  int32_t eou_id_ = -1;
  int64_t block_len_ = 0;
  std::vector<int32_t> block_ids_, newline_ids_, dst_prefix_ids_, assistant_prefix_ids_;
  std::vector<bool>
      banned_;  // ids free generation never emits (special tokens other than <end_of_utterance>)
  std::unique_ptr<DstTokenFilter> dst_filter_;
};

// One timeline line of streaming.md §1: {"clip", "video_uid", "clip_idx", "frame", "time", "type", "text",
// "p"} (the evaluator's format, eval/timeline.h, plus the head's probability).
std::string timeline_jsonl_line(const StreamEvent& e, const data::Clip& clip);

}  // namespace prospect::stream
