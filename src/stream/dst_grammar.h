// Grammar-constrained DST decoding (streaming.md §1): the body the model generates after "DST_UPDATE:" must
// read " Sk->transition(, Sk->transition)*" followed by <end_of_utterance>, where every item is a transition
// that applies to the state left by the items before it (so each update parses and applies in full). A token
// is allowed when the text generated so far plus the token's bytes is still a prefix of such a body.
// Torch-free: the engine turns the allowed ids into a logit mask. Not here: the generation loop
// (stream_engine.h), parsing predicted text for scoring (eval/timeline.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/dst_state.h"

namespace prospect::text {
class Tokenizer;
}

namespace prospect::stream {

// How far a body text is from a valid one.
enum class GrammarStatus {
  Invalid,   // no continuation makes it valid
  Partial,   // a prefix of some valid body, not valid itself
  Complete,  // a whole valid body (it may also continue with ", ...")
};

// The language of valid DST bodies from one starting state.
class DstGrammar {
 public:
  // One `{id}->{transition}` item and its text.
  struct Item {
    std::string text;  // "S1->start"
    data::DstItem item;
  };
  // Where a body stands, parsed once, so that many one-token continuations can be checked cheaply: the
  // state before the item being written, the items valid from it, and that item's text so far.
  struct Cursor {
    GrammarStatus status = GrammarStatus::Invalid;
    bool before_space = true;  // nothing written yet: the body must open with ' '
    data::TaskState state;
    std::vector<Item> items;
    std::string tail;
  };

  // Items are the clip's step ids (in `state`'s order) with the seven transitions.
  explicit DstGrammar(data::TaskState state);

  // Where `body` (everything generated after "DST_UPDATE:", leading space included, no <end_of_utterance>)
  // stands. Never throws.
  GrammarStatus check(std::string_view body) const;
  // The items of a Complete (or Partial) body that were closed so far, in order; empty for Invalid.
  std::vector<data::DstItem> items(std::string_view body) const;
  // The longest prefix of `body` that is Complete ("" when none is): what a generation cut off by its token
  // limit keeps.
  std::string complete_prefix(std::string_view body) const;
  // True when at least one item applies to the starting state (false only for a clip without steps).
  bool any_valid() const { return !items0_.empty(); }
  // Every byte an item or a separator can contain (for pre-filtering a vocabulary).
  const std::string& alphabet() const { return alphabet_; }
  const data::TaskState& state() const { return state_; }

  // The cursor after `body`; check_continuation(cursor(body), more) == check(body + more).
  Cursor cursor(std::string_view body) const;
  GrammarStatus check_continuation(const Cursor& c, std::string_view more) const;

 private:
  // Parses `text` (a body without its leading space, or the rest of one from an item start) from `st`, whose
  // valid items are `items` (or computed when null). Fills `closed` and `cur` when given.
  GrammarStatus parse_from(data::TaskState st, const std::vector<Item>* items, std::string_view text,
                           std::vector<data::DstItem>* closed, Cursor* cur) const;
  data::TaskState state_;
  std::vector<Item> items0_;  // valid from state_
  std::string alphabet_;
};

// The tokens of a vocabulary that can ever take part in a DST body, and the per-step choice of allowed ids.
class DstTokenFilter {
 public:
  // `eou_id` is <end_of_utterance>. Holds the tokenizer by reference: it must outlive the filter.
  DstTokenFilter(const text::Tokenizer& tok, int32_t eou_id);

  // Ids allowed after `body` under `grammar`: non-special tokens whose bytes keep the body a prefix of a
  // valid one, plus <end_of_utterance> when the body is Complete. Empty when the body is already Invalid.
  std::vector<int32_t> allowed(const DstGrammar& grammar, const std::string& body) const;

 private:
  const text::Tokenizer* tok_;
  int32_t eou_id_;
  std::vector<int32_t> candidates_;  // non-special ids with printable ASCII bytes only
  std::vector<std::string> candidate_bytes_;
  std::vector<std::vector<size_t>> by_first_byte_;  // 256 lists of indices into candidates_
};

}  // namespace prospect::stream
