// DST body grammar and the token filter built on it (see dst_grammar.h). The parse walks the body item by
// item, applying each closed item to a copy of the state, so the items offered next are those valid after it.
// Item strings never prefix one another (a step id ends at "->", no transition name prefixes another), so at
// most one item can match at each position and the parse needs no backtracking.
#include "stream/dst_grammar.h"

#include "text/tokenizer.h"

namespace prospect::stream {

namespace {

using Item = DstGrammar::Item;

const data::Transition kTransitions[] = {
    data::Transition::Start,  data::Transition::Complete, data::Transition::Pause, data::Transition::Resume,
    data::Transition::Cancel, data::Transition::Fail,     data::Transition::Reset};

// Every item that applies to `state`, steps in order, transitions in table order.
std::vector<Item> valid_items(const data::TaskState& state) {
  std::vector<Item> out;
  for (const std::string& id : state.step_ids()) {
    data::StepState s = state.get(id);
    for (data::Transition t : kTransitions) {
      if (!data::apply_transition(s, t)) continue;
      out.push_back({id + "->" + data::transition_name(t), data::DstItem{id, t}});
    }
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

DstGrammar::DstGrammar(data::TaskState state) : state_(std::move(state)) {
  bool seen[256] = {};
  auto add = [&](std::string_view s) {
    for (unsigned char c : s) {
      if (!seen[c]) alphabet_.push_back(static_cast<char>(c));
      seen[c] = true;
    }
  };
  add(" ,->");
  for (const std::string& id : state_.step_ids()) add(id);
  for (data::Transition t : kTransitions) add(data::transition_name(t));
  items0_ = valid_items(state_);
}

GrammarStatus DstGrammar::parse_from(data::TaskState st, const std::vector<Item>* items,
                                     std::string_view text, std::vector<data::DstItem>* closed,
                                     Cursor* cur) const {
  std::vector<Item> computed;
  size_t pos = 0;
  while (true) {
    if (!items) {
      computed = valid_items(st);
      items = &computed;
    }
    if (cur) {
      cur->state = st;
      cur->items = *items;
      cur->tail = std::string(text.substr(pos));
    }
    std::string_view rest = text.substr(pos);
    const Item* matched = nullptr;
    for (const Item& it : *items) {
      if (starts_with(rest, it.text)) {
        matched = &it;
        break;
      }
    }
    if (!matched) {
      // The body ends inside an item: fine when some item continues it.
      for (const Item& it : *items) {
        if (starts_with(it.text, rest)) return GrammarStatus::Partial;
      }
      return GrammarStatus::Invalid;
    }
    if (closed) closed->push_back(matched->item);
    std::string_view after = rest.substr(matched->text.size());
    if (after.empty()) return GrammarStatus::Complete;
    st.apply(matched->item);
    if (after == ",") return valid_items(st).empty() ? GrammarStatus::Invalid : GrammarStatus::Partial;
    // After ", " the loop goes on to the next item (an empty rest is Partial there), so a cursor taken here
    // already sits at the next item with its items computed.
    if (!starts_with(after, ", ")) return GrammarStatus::Invalid;
    pos += matched->text.size() + 2;
    items = nullptr;
  }
}

DstGrammar::Cursor DstGrammar::cursor(std::string_view body) const {
  Cursor c;
  if (body.empty()) {
    c.status = any_valid() ? GrammarStatus::Partial : GrammarStatus::Invalid;
    c.state = state_;
    c.items = items0_;
    return c;
  }
  c.before_space = false;
  c.status =
      body[0] == ' ' ? parse_from(state_, &items0_, body.substr(1), nullptr, &c) : GrammarStatus::Invalid;
  return c;
}

GrammarStatus DstGrammar::check_continuation(const Cursor& c, std::string_view more) const {
  if (c.status == GrammarStatus::Invalid || more.empty()) return c.status;
  if (c.before_space) {
    if (more[0] != ' ') return GrammarStatus::Invalid;
    return parse_from(c.state, &c.items, more.substr(1), nullptr, nullptr);
  }
  std::string probe = c.tail;
  probe += more;
  return parse_from(c.state, &c.items, probe, nullptr, nullptr);
}

GrammarStatus DstGrammar::check(std::string_view body) const { return check_continuation(cursor(""), body); }

std::vector<data::DstItem> DstGrammar::items(std::string_view body) const {
  std::vector<data::DstItem> out;
  bool ok = !body.empty() && body[0] == ' ' &&
            parse_from(state_, &items0_, body.substr(1), &out, nullptr) != GrammarStatus::Invalid;
  if (!ok) out.clear();
  return out;
}

std::string DstGrammar::complete_prefix(std::string_view body) const {
  // Complete prefixes end right after an item, i.e. before a ',' or at the end.
  for (size_t n = body.size(); n > 0; --n) {
    if (n < body.size() && body[n] != ',') continue;
    if (check(body.substr(0, n)) == GrammarStatus::Complete) return std::string(body.substr(0, n));
  }
  return "";
}

DstTokenFilter::DstTokenFilter(const text::Tokenizer& tok, int32_t eou_id) : tok_(&tok), eou_id_(eou_id) {
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.is_special(id) || id == eou_id) continue;
    std::string_view b = tok.id_to_bytes(id);
    if (b.empty()) continue;
    bool printable = true;
    for (unsigned char c : b) printable = printable && c >= 0x20 && c < 0x7f;
    if (!printable) continue;
    candidates_.push_back(id);
    candidate_bytes_.emplace_back(b);
  }
  by_first_byte_.resize(256);
  for (size_t i = 0; i < candidates_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(candidate_bytes_[i][0])].push_back(i);
}

std::vector<int32_t> DstTokenFilter::allowed(const DstGrammar& grammar, const std::string& body) const {
  std::vector<int32_t> out;
  // The body is parsed once; each candidate only extends the item being written (the vocabulary is large).
  DstGrammar::Cursor cur = grammar.cursor(body);
  if (cur.status == GrammarStatus::Invalid) return out;
  bool in_alphabet[256] = {};
  for (unsigned char c : grammar.alphabet()) in_alphabet[c] = true;
  // Only tokens whose first byte can come next are worth a full check: a handful of bytes, out of the
  // alphabet, each tried once.
  for (unsigned char first : grammar.alphabet()) {
    if (grammar.check_continuation(cur, std::string(1, static_cast<char>(first))) == GrammarStatus::Invalid)
      continue;
    for (size_t i : by_first_byte_[first]) {
      const std::string& b = candidate_bytes_[i];
      bool ok = true;
      for (unsigned char c : b) ok = ok && in_alphabet[c];
      if (ok && grammar.check_continuation(cur, b) != GrammarStatus::Invalid) out.push_back(candidates_[i]);
    }
  }
  if (cur.status == GrammarStatus::Complete) out.push_back(eou_id_);
  return out;
}

}  // namespace prospect::stream
