// The streaming loop (see stream_engine.h). The cache always holds the system message, then `hist_ids`: every
// token fed since, with the image features of its frame blocks kept beside it, so a middle drop can re-feed
// the most recent frames and a canonical re-tokenization can rewind to a message's start.
#include "stream/stream_engine.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/strings.h"
#include "data/clip.h"
#include "data/clip_renderer.h"
#include "model/loss.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace prospect::stream {

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

const char* context_policy_name(ContextPolicy p) {
  return p == ContextPolicy::Refresh ? "refresh" : "drop_middle";
}

ContextPolicy parse_context_policy(const std::string& name) {
  if (name == "refresh") return ContextPolicy::Refresh;
  if (name == "drop_middle") return ContextPolicy::DropMiddle;
  ErrorContext c;
  c.field = "context policy";
  fail(c, "unknown context policy '" + name + "'", "use refresh or drop_middle");
}

std::string timeline_jsonl_line(const StreamEvent& e, const data::Clip& clip) {
  // Same keys and order as the evaluator writes, plus the probability.
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(eval::timeline_line(e.event, clip));
  j["p"] = e.p;
  return j.dump();
}

struct StreamEngine::Run {
  const data::Clip* clip = nullptr;
  const StreamObserver* obs = nullptr;
  model::KVCache cache;
  int64_t sys_len = 0;  // system message + "\n"
  std::vector<int32_t> sys_ids;
  std::vector<int32_t> hist_ids;                        // every token after the system message, as fed
  std::vector<at::Tensor> hist_feats;                   // [1, K, H] per frame block in hist_ids, in order
  std::vector<std::pair<size_t, size_t>> frame_starts;  // (offset in hist_ids, index in hist_feats) per frame
  data::TaskState state;
  ClipStreamResult result;
  int64_t frame = 0;
  at::Tensor last_hidden;  // [1, H] of the last token fed
  void log(const std::string& m) {
    result.log.push_back(m);
    if (obs && obs->on_log) obs->on_log(m);
  }
};

StreamEngine::StreamEngine(model::SmolVLM& model, model::DecisionHeads* heads, const text::Tokenizer& tok,
                           StreamOptions opt)
    : model_(&model), heads_(heads), tok_(&tok), opt_(opt) {
  ErrorContext c;
  c.field = "stream options";
  if (!(opt_.threshold_dst >= 0 && opt_.threshold_dst <= 1) ||
      !(opt_.threshold_speak >= 0 && opt_.threshold_speak <= 1))
    fail(c, "thresholds must lie in [0, 1]", "0 fires on every frame, 1 never fires");
  if (opt_.max_dst_tokens < 1 || opt_.max_speak_tokens < 1) fail(c, "generation limits must be positive");
  if (opt_.max_context < 16) fail(c, "max_context " + std::to_string(opt_.max_context) + " is too small");
  if (opt_.refresh_margin < 0) fail(c, "refresh_margin must not be negative");
  if (opt_.frame_stride < 1) fail(c, "frame_stride must be positive");
  // ClipRenderer checks the special tokens the rendering needs; reuse its check and its frame block.
  data::RenderOptions ro;
  ro.image_seq_len = static_cast<int>(model.tokens_per_image());
  data::ClipRenderer check(tok, ro);
  eou_id_ = text::end_of_utterance_id(tok);
  block_ids_ = tok.encode(data::frame_block_text(ro.image_seq_len));
  block_len_ = static_cast<int64_t>(block_ids_.size());
  newline_ids_ = tok.encode("\n");
  dst_prefix_ids_ = tok.encode("DST_UPDATE:");
  assistant_prefix_ids_ = tok.encode("Assistant:");
  const int64_t vocab = model.config.text.vocab_size;
  banned_.assign(static_cast<size_t>(vocab), false);
  for (int32_t id = 0; id < vocab; ++id) {
    // A generated <image> would need image features; other specials are never part of a reply.
    if (id != eou_id_ && (tok.is_special(id) || id == model.config.image_token_id)) banned_[id] = true;
  }
  dst_filter_ = std::make_unique<DstTokenFilter>(tok, eou_id_);
  if (!heads_) marks_ = data::decision_token_ids(tok);
}

std::pair<double, double> StreamEngine::decision_logits(const at::Tensor& h) {
  at::NoGradGuard no_grad;
  if (heads_) {
    model::HeadLogits logits = heads_->forward(h);
    return {logits.speak.item<double>(), logits.dst.item<double>()};
  }
  at::Tensor lg = model_->lm_logits(h).view({1, -1});
  return {model::marker_log_odds(lg, marks_.speak).item<double>(),
          model::marker_log_odds(lg, marks_.dst).item<double>()};
}

std::vector<int64_t> StreamEngine::planned_frames(const data::Clip& clip) const {
  data::RenderOptions ro;
  ro.image_seq_len = static_cast<int>(model_->tokens_per_image());
  ro.frame_stride = opt_.frame_stride;
  std::vector<int64_t> out;
  for (const data::FrameUnit& u : data::layout_clip(clip, ro).units) out.push_back(u.frame);
  return out;
}

// ---- cache bookkeeping
// -------------------------------------------------------------------------------------

at::Tensor StreamEngine::feed(Run& r, const std::vector<int32_t>& ids, const at::Tensor& image_features) {
  at::NoGradGuard no_grad;
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  model::ForwardInput in;
  in.input_ids = torch::tensor(ids64, at::kLong).view({1, -1}).to(model_->options.device);
  in.image_features = image_features;
  in.cache = &r.cache;
  in.logits = false;
  model::ForwardOutput out = model_->forward(in);
  r.hist_ids.insert(r.hist_ids.end(), ids.begin(), ids.end());
  if (image_features.defined()) {
    for (int64_t i = 0; i < image_features.size(0); ++i)
      r.hist_feats.push_back(image_features.narrow(0, i, 1));
  }
  r.result.stats.fed_tokens += static_cast<int64_t>(ids.size());
  r.result.stats.max_cache_tokens = std::max(r.result.stats.max_cache_tokens, r.cache.length());
  r.last_hidden = out.last_hidden_state.select(1, out.last_hidden_state.size(1) - 1);  // [1, H]
  return r.last_hidden;
}

void StreamEngine::rewind(Run& r, int64_t length) {
  if (length < r.sys_len || length > r.cache.length())
    fail("stream: cannot rewind to " + std::to_string(length) + " tokens (system " +
         std::to_string(r.sys_len) + ", cache " + std::to_string(r.cache.length()) + ")");
  size_t keep = static_cast<size_t>(length - r.sys_len);
  int64_t images = 0;
  for (size_t i = keep; i < r.hist_ids.size(); ++i) images += r.hist_ids[i] == model_->config.image_token_id;
  int64_t k = model_->tokens_per_image();
  r.hist_feats.resize(r.hist_feats.size() - static_cast<size_t>(images / k));
  r.hist_ids.resize(keep);
  while (!r.frame_starts.empty() && r.frame_starts.back().first >= keep) r.frame_starts.pop_back();
  r.cache.truncate(length);
}

void StreamEngine::start_context(Run& r, const data::TaskState& state) {
  r.cache.clear();
  r.hist_ids.clear();
  r.hist_feats.clear();
  r.frame_starts.clear();
  std::vector<int32_t> ids = concat(tok_->encode(data::system_message(*r.clip, state)), newline_ids_);
  feed(r, ids, at::Tensor());
  r.hist_ids.clear();  // the system message is not history
  r.sys_ids = ids;
  r.sys_len = r.cache.length();
}

void StreamEngine::make_room(Run& r, int64_t need) {
  const int64_t margin = std::min(opt_.refresh_margin, opt_.max_context / 4);
  if (r.cache.length() + need + margin <= opt_.max_context) return;
  int64_t before = r.cache.length();
  if (opt_.policy == ContextPolicy::Refresh) {
    start_context(r, r.state);
  } else {
    // Keep the most recent whole frames, at most half of the room left after the system message, this
    // frame and the margin, so the next drop is not due at once.
    int64_t budget = (opt_.max_context - r.sys_len - need - margin) / 2;
    size_t pick = r.frame_starts.size();
    for (size_t i = 0; i < r.frame_starts.size(); ++i) {
      if (static_cast<int64_t>(r.hist_ids.size() - r.frame_starts[i].first) <= budget) {
        pick = i;
        break;
      }
    }
    std::vector<int32_t> kept;
    std::vector<at::Tensor> feats;
    std::vector<std::pair<size_t, size_t>> starts;
    if (pick < r.frame_starts.size()) {
      auto [off, fi] = r.frame_starts[pick];
      kept.assign(r.hist_ids.begin() + static_cast<std::ptrdiff_t>(off), r.hist_ids.end());
      feats.assign(r.hist_feats.begin() + static_cast<std::ptrdiff_t>(fi), r.hist_feats.end());
      for (size_t i = pick; i < r.frame_starts.size(); ++i)
        starts.emplace_back(r.frame_starts[i].first - off, r.frame_starts[i].second - fi);
    }
    r.cache.truncate(r.sys_len);
    r.hist_ids.clear();
    r.hist_feats.clear();
    if (!kept.empty()) feed(r, kept, feats.empty() ? at::Tensor() : at::cat(feats, 0));
    r.frame_starts = starts;
  }
  ++r.result.stats.refreshes;
  r.log("frame " + std::to_string(r.frame) + ": context " + context_policy_name(opt_.policy) + " (" +
        std::to_string(before) + " -> " + std::to_string(r.cache.length()) + " tokens; state " +
        r.state.format() + ")");
  if (r.cache.length() + need > opt_.max_context) {
    fail(data::clip_context(*r.clip),
         "frame " + std::to_string(r.frame) + " with its input turns needs " + std::to_string(need) +
             " tokens after a " + std::to_string(r.cache.length()) +
             "-token context, more than max_context " + std::to_string(opt_.max_context),
         "raise --max-context");
  }
}

// ---- generation
// --------------------------------------------------------------------------------------------

std::vector<int32_t> StreamEngine::generate(Run& r, const at::Tensor& last_hidden, int max_tokens,
                                            const DstGrammar* grammar, std::string* text, bool* finished,
                                            std::vector<int64_t>* forced) {
  at::NoGradGuard no_grad;
  if (forced) forced->clear();
  std::vector<int32_t> out;
  std::string bytes;
  *finished = false;
  at::Tensor hidden = last_hidden;
  const int64_t vocab = model_->config.text.vocab_size;
  const int64_t tail = 1 + static_cast<int64_t>(newline_ids_.size());  // <end_of_utterance> "\n"
  for (int step = 0; step < max_tokens; ++step) {
    if (r.cache.length() + tail + 1 > opt_.max_context) break;  // no room for another token and the ending
    at::Tensor logits = model_->lm_logits(hidden).to(at::kFloat).to(at::kCPU).view({-1});
    const float* lg = logits.data_ptr<float>();
    int32_t best = -1;
    float best_v = -std::numeric_limits<float>::infinity();
    if (grammar) {
      for (int32_t id : dst_filter_->allowed(*grammar, bytes)) {
        if (id < vocab && (best < 0 || lg[id] > best_v)) {
          best = id;
          best_v = lg[id];
        }
      }
    } else {
      for (int32_t id = 0; id < vocab; ++id) {
        if (banned_[id]) continue;
        if (best < 0 || lg[id] > best_v) {
          best = id;
          best_v = lg[id];
        }
      }
    }
    ++r.result.stats.generated_tokens;
    if (best < 0) break;
    if (grammar && forced && best != eou_id_ && opt_.min_reset_prob > 0) {
      // The chosen token's probability under the unconstrained model: softmax over the whole vocabulary.
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t id = 0; id < vocab; ++id) mx = std::max(mx, lg[id]);
      double z = 0;
      for (int64_t id = 0; id < vocab; ++id) z += std::exp(double(lg[id] - mx));
      if (std::exp(double(best_v - mx)) / z < opt_.min_reset_prob)
        forced->push_back(static_cast<int64_t>(bytes.size()));
    }
    if (best == eou_id_) {
      *finished = true;
      break;
    }
    out.push_back(best);
    bytes += tok_->id_to_bytes(best);
    hidden = feed(r, {best}, at::Tensor());
  }
  // The grammar's bytes are ASCII; free text may hold broken UTF-8, which decode() mends as HF does.
  *text = grammar ? bytes : tok_->decode(out);
  return out;
}

std::string StreamEngine::finish_message(Run& r, int64_t body_start, const std::vector<int32_t>& generated,
                                         std::string text) {
  // The renderer tokenizes " {content}<end_of_utterance>" as one string: the cache must hold exactly that.
  std::vector<int32_t> canonical = tok_->encode(text + prospect::text::kEndOfUtterance);
  bool same = canonical.size() == generated.size() + 1;
  for (size_t i = 0; same && i < generated.size(); ++i) same = canonical[i] == generated[i];
  if (same) {
    feed(r, concat({eou_id_}, newline_ids_), at::Tensor());
  } else {
    rewind(r, body_start);
    feed(r, concat(canonical, newline_ids_), at::Tensor());
    ++r.result.stats.retokenized;
  }
  return text;
}

void StreamEngine::emit(Run& r, int64_t frame, eval::EventType type, const std::string& text, double p) {
  StreamEvent e;
  e.event.clip = r.result.clip;
  e.event.frame = frame;
  e.event.time = static_cast<double>(frame) / r.clip->fps;
  e.event.type = type;
  e.event.text = text;
  e.p = p;
  r.result.events.push_back(e);
  if (r.obs && r.obs->on_event) r.obs->on_event(e, r.state);
}

bool StreamEngine::decide_dst(Run& r, int64_t frame, double p) {
  DstGrammar grammar(r.state);
  if (opt_.constrain_dst && !grammar.any_valid()) {
    ++r.result.stats.dst_skipped;
    r.log("frame " + std::to_string(frame) + ": DST head fired but no transition is valid from " +
          r.state.format());
    return false;
  }
  const int64_t start = r.cache.length();
  at::Tensor h = feed(r, dst_prefix_ids_, at::Tensor());
  const int64_t body_start = r.cache.length();
  std::string text;
  bool finished = false;
  std::vector<int64_t> forced;
  std::vector<int32_t> gen =
      generate(r, h, opt_.max_dst_tokens, opt_.constrain_dst ? &grammar : nullptr, &text, &finished, &forced);
  // A reset item that needed a token the model gave less than min_reset_prob: keep the items before it.
  // Other forced items stay: there the grammar mends a state the model got behind (a missed start). The
  // body is parsed only when a token was forced (never with the bar off).
  const std::vector<data::DstItem> all = forced.empty() ? std::vector<data::DstItem>() : grammar.items(text);
  for (int64_t at : forced) {
    const std::string kept = grammar.complete_prefix(text.substr(0, static_cast<size_t>(at)));
    const size_t item = grammar.items(kept).size();
    if (item >= all.size() || all[item].transition != data::Transition::Reset) continue;
    ++r.result.stats.dst_abstained;
    r.log("frame " + std::to_string(frame) + ": DST update '" + prospect::trim(text) +
          "' needed a reset token of probability below " + std::to_string(opt_.min_reset_prob) + " (" +
          (kept.empty() ? std::string("dropped") : "kept '" + prospect::trim(kept) + "'") + ")");
    if (kept.empty()) {
      rewind(r, start);
      return false;
    }
    text = kept;
    finished = true;
    break;
  }
  if (opt_.constrain_dst && !finished) {
    // Cut off by the token limit: keep the items that were closed.
    text = grammar.complete_prefix(text);
    if (text.empty()) {
      rewind(r, start);
      ++r.result.stats.dst_skipped;
      r.log("frame " + std::to_string(frame) + ": DST update cut off before its first item (dropped)");
      return false;
    }
  }
  finish_message(r, body_start, gen, text);
  ++r.result.stats.dst_updates;
  std::string shown = prospect::trim(text);
  for (const eval::PredictedDstItem& it : eval::parse_dst_text(shown)) {
    if (it.item && r.state.has_step(it.item->step_id) && r.state.apply(*it.item)) {
      ++r.result.stats.dst_items_applied;
    } else {
      ++r.result.stats.dst_items_invalid;
      r.log("frame " + std::to_string(frame) + ": DST item '" + it.raw + "' " +
            (it.item && r.state.has_step(it.item->step_id) ? "is not valid from " + r.state.format()
                                                           : std::string("does not parse or names no step")) +
            " (ignored)");
    }
  }
  emit(r, frame, eval::EventType::DstUpdate, shown, p);
  return true;
}

bool is_dst_items(const std::string& text) {
  const std::string t = prospect::trim(text);
  if (t.empty()) return false;
  const std::vector<eval::PredictedDstItem> items = eval::parse_dst_text(t);
  if (items.empty()) return false;
  for (const auto& it : items)
    if (!it.item) return false;
  return true;
}

void StreamEngine::decide_speak(Run& r, int64_t frame, double p, bool may_reroute) {
  const int64_t start = r.cache.length();
  at::Tensor h = feed(r, assistant_prefix_ids_, at::Tensor());
  const int64_t body_start = r.cache.length();
  std::string text;
  bool finished = false;
  std::vector<int32_t> gen = generate(r, h, opt_.max_speak_tokens, nullptr, &text, &finished);
  if (opt_.reroute_dst_speech && is_dst_items(text)) {
    rewind(r, start);
    if (!may_reroute) {
      r.log("frame " + std::to_string(frame) + ": utterance '" + prospect::trim(text) +
            "' is DST items, and this frame had its DST decision (dropped)");
      return;
    }
    ++r.result.stats.dst_rerouted;
    r.log("frame " + std::to_string(frame) + ": utterance '" + prospect::trim(text) +
          "' is DST items: written as a DST update instead");
    if (decide_dst(r, frame, p)) decide_speak(r, frame, p, false);
    return;
  }
  finish_message(r, body_start, gen, text);
  ++r.result.stats.utterances;
  // The renderer writes "Assistant: {content}": the content starts after that one space.
  emit(r, frame, eval::EventType::Speak, !text.empty() && text[0] == ' ' ? text.substr(1) : text, p);
}

// ---- the loop
// ----------------------------------------------------------------------------------------------

ClipStreamResult StreamEngine::run(const data::Clip& clip, int64_t clip_position,
                                   const FeatureSource& features, const StreamObserver* observer) {
  auto t0 = Clock::now();
  Run r;
  r.clip = &clip;
  r.obs = observer;
  r.cache = model_->new_cache();
  r.state = clip.initial_state;
  r.result.clip = clip_position;
  const bool has_steps = !clip.steps.empty();

  data::RenderOptions ro;
  ro.image_seq_len = static_cast<int>(model_->tokens_per_image());
  ro.frame_stride = opt_.frame_stride;
  data::ClipLayout layout = data::layout_clip(clip, ro);
  start_context(r, r.state);

  for (size_t ui = 0; ui < layout.units.size(); ++ui) {
    const data::FrameUnit& u = layout.units[ui];
    auto tf = Clock::now();
    r.frame = u.frame;
    // Inputs anchored here, then the frame block, in one pass; outputs are the segments after the block.
    std::vector<int32_t> inputs;
    size_t seg = 0;
    for (; seg < u.segments.size() && u.segments[seg].kind != data::SegmentKind::FrameBlock; ++seg) {
      const data::Segment& s = u.segments[seg];
      std::vector<int32_t> ids = s.kind == data::SegmentKind::Newline ? newline_ids_ : tok_->encode(s.text);
      inputs.insert(inputs.end(), ids.begin(), ids.end());
    }
    make_room(r, static_cast<int64_t>(inputs.size()) + block_len_);
    auto ti = Clock::now();
    at::Tensor feats = features(u.frame);
    r.result.stats.image_seconds += seconds_since(ti);
    if (!feats.defined() || feats.dim() != 3 || feats.size(0) != 1 ||
        feats.size(1) != model_->tokens_per_image())
      fail(data::clip_context(clip, "frames_file"), "the image features of frame " + std::to_string(u.frame) +
                                                        " are not [1, " +
                                                        std::to_string(model_->tokens_per_image()) + ", H]");
    r.frame_starts.emplace_back(r.hist_ids.size(), r.hist_feats.size());
    at::Tensor h = feed(r, concat(inputs, block_ids_), feats);

    FrameDecision d;
    d.frame = u.frame;
    std::tie(d.logit_speak, d.logit_dst) = decision_logits(h);
    d.p_speak = sigmoid(d.logit_speak);
    d.p_dst = sigmoid(d.logit_dst);
    d.label_speak = u.speak ? 1 : 0;
    d.label_dst = has_steps ? (u.dst_update ? 1 : 0) : -1;

    // Decisions as tokens: after a DST update, the speaking decision is read at the end of its message.
    auto speak_after_dst = [&] {
      if (heads_) return;
      d.logit_speak = decision_logits(r.last_hidden).first;
      d.p_speak = sigmoid(d.logit_speak);
    };
    if (opt_.teacher_forced) {
      // Append the reference outputs exactly as the renderer does, segment by segment (in two feeds with
      // decision tokens: through the DST message's newline, then the rest).
      std::vector<int32_t> outs;
      for (size_t k = seg + 1; k < u.segments.size(); ++k) {
        const data::Segment& s = u.segments[k];
        std::vector<int32_t> ids = s.kind == data::SegmentKind::Newline ? newline_ids_ : tok_->encode(s.text);
        outs.insert(outs.end(), ids.begin(), ids.end());
        if (!heads_ && s.kind == data::SegmentKind::Newline &&
            u.segments[k - 1].kind == data::SegmentKind::DstBody) {
          feed(r, outs, at::Tensor());
          outs.clear();
          speak_after_dst();
        }
      }
      if (!outs.empty()) feed(r, outs, at::Tensor());
      d.fired_dst = u.dst_update;
      d.fired_speak = u.speak;
      if (u.dst_update) {
        std::vector<data::DstItem> items;
        for (const data::Turn& t : clip.turns) {
          if (t.anchor_frame != u.frame || t.role != data::Role::DstUpdate) continue;
          items.insert(items.end(), t.dst_items.begin(), t.dst_items.end());
        }
        for (const data::DstItem& it : items) {
          if (r.state.apply(it))
            ++r.result.stats.dst_items_applied;
          else
            ++r.result.stats.dst_items_invalid;
        }
        ++r.result.stats.dst_updates;
        emit(r, u.frame, eval::EventType::DstUpdate, data::format_dst_items(items), d.p_dst);
      }
      for (const data::Turn& t : clip.turns) {
        if (t.anchor_frame != u.frame || t.role != data::Role::Assistant) continue;
        ++r.result.stats.utterances;
        emit(r, u.frame, eval::EventType::Speak, t.content, d.p_speak);
      }
    } else {
      if (has_steps && d.p_dst > opt_.threshold_dst) {
        d.fired_dst = true;
        if (decide_dst(r, u.frame, d.p_dst)) speak_after_dst();
      }
      if (d.p_speak > opt_.threshold_speak) {
        d.fired_speak = true;
        decide_speak(r, u.frame, d.p_speak, has_steps && !d.fired_dst);
      }
    }
    r.result.decisions.push_back(d);
    ++r.result.stats.frames;
    r.result.stats.frame_ms.push_back(1e3 * seconds_since(tf));
    if (observer && observer->on_frame) observer->on_frame(d);
  }
  r.result.final_state = r.state;
  if (opt_.keep_context_ids) r.result.context_ids = concat(r.sys_ids, r.hist_ids);
  r.result.stats.seconds = seconds_since(t0);
  return std::move(r.result);
}

}  // namespace prospect::stream
