// Tokenizer: reads tokenizer.json, matches added tokens, runs the pre-tokenizer and the BPE model, and maps
// ids back to text. Mirrors HF `tokenizers` 0.23 for the byte-level BPE family (SmolLM2 / SmolVLM2, Llama 3):
// added tokens split first (non-normalized ones, then normalized ones; leftmost-longest), offsets in code
// points of the input, ByteLevel decode with invalid UTF-8 replaced as Rust's from_utf8_lossy does.
// TemplateProcessing tokens around a single text on request. Does not implement normalizers, truncation,
// padding or pair templates.
#include "text/tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text_file.h"
#include "text/bpe_model.h"
#include "text/pretokenizer.h"
#include "text/unicode.h"

namespace prospect::text {
namespace {

using nlohmann::json;

constexpr int32_t kMaxId = 1 << 24;  // far above any real vocabulary; guards against absurd allocations

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

// Bits set in x. The builtin is a library call unless the build targets POPCNT, so count by hand then.
inline int popcount64(uint64_t x) {
#ifdef __POPCNT__
  return __builtin_popcountll(x);
#else
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<int>((x * 0x0101010101010101ull) >> 56);
#endif
}

// Byte trie over added-token contents for leftmost-longest matching (what HF's Aho-Corasick gives). Built
// as a plain trie, then laid out flat: each node has a 256-bit child set and its children stored together,
// so one step is a bit test and a popcount, with no search through child lists.
class AddedMatcher {
 public:
  bool empty() const { return flat_.empty(); }

  void add(std::string_view s, int32_t token) {
    if (build_.empty()) build_.emplace_back();
    int32_t node = 0;
    for (char c : s) {
      auto b = static_cast<uint8_t>(c);
      int32_t child = -1;
      for (const auto& [byte, next] : build_[node].next) {
        if (byte == b) child = next;
      }
      if (child < 0) {
        child = static_cast<int32_t>(build_.size());
        build_[node].next.emplace_back(b, child);
        build_.emplace_back();
      }
      node = child;
    }
    build_[node].token = token;
  }

  // Lays out the trie built by add(); call once after the last add().
  void finalize() {
    flat_.clear();
    if (build_.empty()) return;
    // Breadth-first, so the children of each node get consecutive slots.
    std::vector<int32_t> order = {0};
    flat_.push_back(Flat{});
    for (size_t k = 0; k < order.size(); ++k) {
      BuildNode& bn = build_[order[k]];
      std::sort(bn.next.begin(), bn.next.end());
      flat_[k].token = bn.token;
      flat_[k].first_child = static_cast<int32_t>(flat_.size());
      for (const auto& [byte, child] : bn.next) {
        flat_[k].bits[byte >> 6] |= 1ull << (byte & 63);
        order.push_back(child);
        flat_.push_back(Flat{});
      }
      for (int w = 1; w < 4; ++w) {
        flat_[k].before[w] = static_cast<uint8_t>(flat_[k].before[w - 1] + popcount64(flat_[k].bits[w - 1]));
      }
    }
    build_.clear();
  }

  // Index of the longest token starting at text[pos] and ending by `end`, with its length; -1 if none.
  int32_t longest(std::string_view text, size_t pos, size_t end, size_t* len) const {
    int32_t node = 0;
    int32_t best = -1;
    for (size_t i = pos; i < end; ++i) {
      auto b = static_cast<uint8_t>(text[i]);
      const Flat& f = flat_[node];
      uint64_t word = f.bits[b >> 6];
      uint64_t bit = 1ull << (b & 63);
      if (!(word & bit)) break;
      node = f.first_child + f.before[b >> 6] + popcount64(word & (bit - 1));
      if (flat_[node].token >= 0) {
        best = flat_[node].token;
        *len = i + 1 - pos;
      }
    }
    return best;
  }

  // True when some token starts with byte b (a cheap filter before longest()).
  bool can_start(uint8_t b) const { return (flat_[0].bits[b >> 6] >> (b & 63)) & 1; }

 private:
  struct BuildNode {
    std::vector<std::pair<uint8_t, int32_t>> next;
    int32_t token = -1;
  };
  struct Flat {
    uint64_t bits[4] = {0, 0, 0, 0};
    uint8_t before[4] = {0, 0, 0, 0};  // children in the bit words before each word
    int32_t first_child = 0;
    int32_t token = -1;
  };
  std::vector<BuildNode> build_;
  std::vector<Flat> flat_;
};

struct Segment {
  uint32_t begin;
  uint32_t end;
  int32_t added;  // index into the added tokens, or -1 for text to pre-tokenize
};

// Code point ending right before pos (pos > 0, at a character boundary of valid UTF-8).
uint32_t codepoint_before(std::string_view s, size_t pos) {
  size_t start = pos - 1;
  while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
  uint32_t cp = 0;
  utf8_decode(s, start, &cp);
  return cp;
}

bool is_whitespace(uint32_t cp) { return codepoint_class(cp) == CodepointClass::kSpace; }
// Characters at the start and at the end of a token string that are whitespace or 'Ġ' (U+0120, the
// byte-level space): what ByteLevel's trim_offsets moves offsets past.
std::pair<int32_t, int32_t> space_counts(std::string_view tok) {
  std::vector<bool> space;
  size_t pos = 0;
  while (pos < tok.size()) {
    uint32_t cp = 0;
    int l = utf8_decode(tok, pos, &cp);
    if (l <= 0) break;
    space.push_back(cp == 0x120 || is_whitespace(cp));
    pos += l;
  }
  int32_t lead = 0;
  while (lead < static_cast<int32_t>(space.size()) && space[lead]) ++lead;
  int32_t trail = 0;
  while (trail < static_cast<int32_t>(space.size()) && space[space.size() - 1 - trail]) ++trail;
  return {lead, trail};
}

// HF's single_word check: no regex \w character (Unicode: letters, marks, decimal digits, connector
// punctuation, ZWJ/ZWNJ) right before or after the match.
bool is_word_char(uint32_t cp) { return is_regex_word(cp); }

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& message,
                      const std::string& hint = "") {
  ErrorContext ctx;
  ctx.file = origin;
  ctx.field = field;
  fail(ctx, message, hint);
}

std::string type_of(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
  return "";
}

bool get_bool(const json& obj, const char* key, bool fallback, const std::string& origin,
              const std::string& path) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean()) bad(origin, path + "." + key, "expected true or false, got " + obj[key].dump());
  return obj[key].get<bool>();
}

}  // namespace

struct Tokenizer::Impl {
  std::string origin;
  BpeModel bpe;
  PreTokenizerConfig pre;
  std::vector<AddedToken> added;
  std::vector<std::string> added_contents;  // parallel to `added`, for the string index
  StringIdIndex added_index;
  AddedMatcher match_raw;     // added tokens with normalized=false: matched on the raw input first
  AddedMatcher match_norm;    // normalized=true: matched on what is left (no normalizer, so the same text)
  bool trim_offsets = false;  // ByteLevel post-processor trims whitespace from offsets
  bool trim_add_prefix_space = false;
  std::vector<int32_t> template_prefix;  // TemplateProcessing's ids before the text (e.g. Llama 3's BOS)
  std::vector<int32_t> template_suffix;  // and after it
  int32_t vocab_size = 0;
  std::vector<std::string> id_bytes;  // what each id decodes to
  std::vector<int32_t> id_added;      // index into `added`, or -1
  std::vector<uint8_t> lead_spaces;   // per id, for trim_offsets
  std::vector<uint8_t> trail_spaces;

  void split_added(std::string_view text, uint32_t b, uint32_t e, const AddedMatcher& m,
                   std::vector<Segment>& out) const;
  void finish();
};

void Tokenizer::Impl::split_added(std::string_view text, uint32_t b, uint32_t e, const AddedMatcher& m,
                                  std::vector<Segment>& out) const {
  uint32_t start_offset = b;
  uint32_t i = b;
  while (i < e) {
    if (!m.can_start(static_cast<uint8_t>(text[i]))) {
      ++i;
      continue;
    }
    size_t len = 0;
    int32_t tok = m.longest(text, i, e, &len);
    if (tok < 0) {
      ++i;
      continue;
    }
    uint32_t mstart = i;
    uint32_t mstop = i + static_cast<uint32_t>(len);
    i = mstop;
    const AddedToken& t = added[tok];
    if (t.single_word) {
      bool start_ok = mstart == b || !is_word_char(codepoint_before(text, mstart));
      uint32_t cp = 0;
      bool stop_ok = mstop == e || (utf8_decode(text, mstop, &cp) > 0 && !is_word_char(cp));
      if (!start_ok || !stop_ok) continue;
    }
    if (t.lstrip) {
      // Take in the whitespace before the match (not past the previous split).
      uint32_t s = mstart;
      while (s > b) {
        uint32_t back = s - 1;
        while (back > b && (static_cast<uint8_t>(text[back]) & 0xC0) == 0x80) --back;
        uint32_t cp = 0;
        utf8_decode(text, back, &cp);
        if (!is_whitespace(cp)) break;
        s = back;
      }
      mstart = std::max(s, start_offset);
    }
    if (t.rstrip) {
      while (mstop < e) {
        uint32_t cp = 0;
        int l = utf8_decode(text, mstop, &cp);
        if (l <= 0 || !is_whitespace(cp)) break;
        mstop += static_cast<uint32_t>(l);
      }
      i = mstop;
    }
    if (start_offset < mstart) out.push_back({start_offset, mstart, -1});
    out.push_back({mstart, mstop, tok});
    start_offset = mstop;
  }
  if (start_offset < e) out.push_back({start_offset, e, -1});
}

// Derived tables: what each id decodes to, which ids are added tokens, whitespace counts for trimming.
void Tokenizer::Impl::finish() {
  int32_t size = static_cast<int32_t>(bpe.vocab().size());
  for (const AddedToken& t : added) size = std::max(size, t.id + 1);
  vocab_size = size;
  id_bytes.assign(size, std::string());
  id_added.assign(size, -1);
  for (size_t id = 0; id < bpe.vocab().size(); ++id) {
    if (!bpe.vocab()[id].empty()) id_bytes[id] = byte_level_to_bytes(bpe.vocab()[id]);
  }
  for (size_t k = 0; k < added.size(); ++k) {
    id_added[added[k].id] = static_cast<int32_t>(k);
    // Added tokens decode to their own text (HF skips the ByteLevel mapping for them).
    id_bytes[added[k].id] = added[k].content;
  }
  added_contents.clear();
  for (const AddedToken& t : added) added_contents.push_back(t.content);
  added_index.build(added_contents);
  if (trim_offsets) {
    lead_spaces.assign(size, 0);
    trail_spaces.assign(size, 0);
    for (int32_t id = 0; id < size; ++id) {
      std::string tok = id_added[id] >= 0                               ? added[id_added[id]].content
                        : id < static_cast<int32_t>(bpe.vocab().size()) ? bpe.vocab()[id]
                                                                        : std::string();
      auto [lead, trail] = space_counts(tok);
      lead_spaces[id] = static_cast<uint8_t>(std::min<int32_t>(lead, 255));
      trail_spaces[id] = static_cast<uint8_t>(std::min<int32_t>(trail, 255));
    }
  }
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::load(const std::string& path) {
  return from_json(read_text_file(path, "cannot open the tokenizer file",
                                  "pass the path of a Hugging Face tokenizer.json"),
                   path);
}

namespace {

// A Split pre-tokenizer: only the known regexes (pretokenizer.h), behavior Isolated, invert false.
void parse_split(const json& step, const std::string& origin, const std::string& path,
                 PreTokenizerConfig* cfg) {
  const std::string supported =
      "supported Split patterns: Llama 3's, its single-number (Qwen2) variant and "
      "GPT-2's, with behavior Isolated and invert false (docs/TOKENIZER.md)";
  if (!step.contains("pattern") || !step["pattern"].is_object()) {
    bad(origin, path + ".pattern", "missing or not an object {\"Regex\": ...}", supported);
  }
  const json& pat = step["pattern"];
  if (pat.contains("Regex") && pat["Regex"].is_string()) {
    std::string regex = pat["Regex"].get<std::string>();
    cfg->split = split_regex_for(regex);
    if (cfg->split == SplitRegex::kNone) {
      bad(origin, path + ".pattern.Regex",
          "Split pattern " + json(regex).dump() + " is not supported (no regex engine: only known patterns)",
          supported);
    }
  } else {
    bad(origin, path + ".pattern", "Split pattern " + pat.dump().substr(0, 200) + " is not supported",
        supported);
  }
  std::string behavior = step.contains("behavior") && step["behavior"].is_string()
                             ? step["behavior"].get<std::string>()
                             : (step.contains("behavior") ? step["behavior"].dump() : "missing");
  if (behavior != "Isolated") {
    bad(origin, path + ".behavior", "Split behavior " + behavior + " is not supported", supported);
  }
  if (get_bool(step, "invert", false, origin, path)) {
    bad(origin, path + ".invert", "Split with invert true is not supported", supported);
  }
}

void parse_pre_tokenizer(const json& root, const std::string& origin, PreTokenizerConfig* cfg) {
  const char* kField = "pre_tokenizer";
  if (!root.contains(kField) || root[kField].is_null()) {
    bad(origin, kField, "missing: a byte-level BPE tokenizer needs a ByteLevel pre-tokenizer");
  }
  const json& pt = root[kField];
  std::vector<std::pair<const json*, std::string>> steps;
  std::string type = type_of(pt);
  if (type == "Sequence") {
    if (!pt.contains("pretokenizers") || !pt["pretokenizers"].is_array()) {
      bad(origin, "pre_tokenizer.pretokenizers", "expected an array of pre-tokenizers");
    }
    for (size_t i = 0; i < pt["pretokenizers"].size(); ++i) {
      steps.emplace_back(&pt["pretokenizers"][i], "pre_tokenizer.pretokenizers[" + std::to_string(i) + "]");
    }
  } else {
    steps.emplace_back(&pt, "pre_tokenizer");
  }
  bool have_byte_level = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& step = *steps[i].first;
    const std::string& path = steps[i].second;
    std::string t = type_of(step);
    if (t == "Split" && i == 0 && i + 1 < steps.size()) {
      parse_split(step, origin, path, cfg);
    } else if (t == "Digits" && !have_byte_level && !cfg->digits && cfg->split == SplitRegex::kNone) {
      cfg->digits = true;
      cfg->individual_digits = get_bool(step, "individual_digits", false, origin, path);
    } else if (t == "ByteLevel" && !have_byte_level && i + 1 == steps.size()) {
      have_byte_level = true;
      // HF's defaults when a field is absent.
      cfg->add_prefix_space = get_bool(step, "add_prefix_space", true, origin, path);
      cfg->use_regex = get_bool(step, "use_regex", true, origin, path);
    } else {
      bad(origin, path, "pre-tokenizer '" + (t.empty() ? step.dump() : t) + "' is not supported here",
          "supported: [Digits | Split(known regex),] ByteLevel, with ByteLevel last");
    }
  }
  if (!have_byte_level) bad(origin, kField, "no ByteLevel pre-tokenizer: only byte-level BPE is supported");
}

// What the post-processor does to one sequence: ByteLevel's offset trimming, and the ids a
// TemplateProcessing's `single` template puts before and after the text (added only on request).
struct PostProcessor {
  bool trim = false;
  bool trim_add_prefix_space = false;
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;
};

// TemplateProcessing: the `single` template must be special tokens around one `Sequence A`; each special
// token's ids come from `special_tokens`. The pair template is not used (Prospect encodes single texts).
void parse_template(const json& step, const std::string& origin, const std::string& path, PostProcessor* pp) {
  if (!step.contains("single") || !step["single"].is_array()) {
    bad(origin, path + ".single", "missing or not an array of template pieces");
  }
  const json* specials = step.contains("special_tokens") && step["special_tokens"].is_object()
                             ? &step["special_tokens"]
                             : nullptr;
  bool seen_sequence = false;
  const json& single = step["single"];
  for (size_t i = 0; i < single.size(); ++i) {
    const json& piece = single[i];
    const std::string ppath = path + ".single[" + std::to_string(i) + "]";
    if (piece.is_object() && piece.contains("Sequence")) {
      const json& seq = piece["Sequence"];
      if (seen_sequence || !seq.is_object() || !seq.contains("id") || seq["id"] != "A") {
        bad(origin, ppath,
            "expected one {\"Sequence\": {\"id\": \"A\"}} in the single template, got " +
                piece.dump().substr(0, 80));
      }
      seen_sequence = true;
    } else if (piece.is_object() && piece.contains("SpecialToken") && piece["SpecialToken"].is_object() &&
               piece["SpecialToken"].contains("id") && piece["SpecialToken"]["id"].is_string()) {
      std::string name = piece["SpecialToken"]["id"].get<std::string>();
      if (!specials || !specials->contains(name) || !(*specials)[name].is_object() ||
          !(*specials)[name].contains("ids") || !(*specials)[name]["ids"].is_array()) {
        bad(origin, path + ".special_tokens", "no ids for template token \"" + name + "\"");
      }
      for (const json& id : (*specials)[name]["ids"]) {
        if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() >= kMaxId) {
          bad(origin, path + ".special_tokens[\"" + name + "\"].ids",
              "expected ids in range, got " + id.dump());
        }
        (seen_sequence ? pp->suffix : pp->prefix).push_back(id.get<int32_t>());
      }
    } else {
      bad(origin, ppath, "expected a SpecialToken or Sequence piece, got " + piece.dump().substr(0, 80));
    }
  }
  if (!seen_sequence)
    bad(origin, path + ".single", "the single template has no {\"Sequence\": {\"id\": \"A\"}}");
}

void parse_post_processor(const json& root, const std::string& origin, PostProcessor* out) {
  if (!root.contains("post_processor") || root["post_processor"].is_null()) return;
  const json& pp = root["post_processor"];
  std::vector<std::pair<const json*, std::string>> steps;
  if (type_of(pp) == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    for (size_t i = 0; i < pp["processors"].size(); ++i) {
      steps.emplace_back(&pp["processors"][i], "post_processor.processors[" + std::to_string(i) + "]");
    }
  } else {
    steps.emplace_back(&pp, "post_processor");
  }
  bool have_template = false;
  for (const auto& [step, path] : steps) {
    std::string t = type_of(*step);
    if (t == "ByteLevel" && !have_template) {
      // Changes no ids; with trim_offsets it moves offsets past leading/trailing spaces.
      out->trim = get_bool(*step, "trim_offsets", true, origin, path);
      out->trim_add_prefix_space = get_bool(*step, "add_prefix_space", true, origin, path);
    } else if (t == "TemplateProcessing" && !have_template) {
      // Adds special tokens around the text, only when asked to (encode's add_special_tokens).
      parse_template(*step, origin, path, out);
      have_template = true;
    } else {
      bad(origin, path, "post-processor '" + (t.empty() ? step->dump() : t) + "' is not supported here",
          "supported: null, ByteLevel, TemplateProcessing, or a Sequence of ByteLevel then "
          "TemplateProcessing");
    }
  }
}

// Pipeline parts this tokenizer does not implement: truncation, padding and a normalizer must be absent or
// null.
void check_unsupported_parts(const json& root, const std::string& origin) {
  for (const char* key : {"truncation", "padding"}) {
    if (root.contains(key) && !root[key].is_null()) {
      bad(origin, key, "is set, which is not supported",
          "set it to null; Prospect truncates and pads itself");
    }
  }
  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    std::string t = type_of(root["normalizer"]);
    bad(origin, "normalizer",
        "normalizer '" + (t.empty() ? root["normalizer"].dump() : t) + "' is not supported",
        "only tokenizers without a normalizer (byte-level BPE) are supported");
  }
}

// The "model" object, checked to be a plain BPE model with a vocab object and a merges array.
const json& checked_model(const json& root, const std::string& origin) {
  if (!root.contains("model") || !root["model"].is_object()) {
    bad(origin, "model", root.contains("model") ? "expected an object" : "missing",
        "a tokenizer.json has a BPE model");
  }
  const json& model = root["model"];
  std::string mtype = type_of(model);
  if (!mtype.empty() && mtype != "BPE") {
    bad(origin, "model.type", "model '" + mtype + "' is not supported", "only BPE models are supported");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    bad(origin, "model.vocab", model.contains("vocab") ? "expected an object {token: id}" : "missing");
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    bad(origin, "model.merges", model.contains("merges") ? "expected an array" : "missing");
  }
  if (model.contains("dropout") && !model["dropout"].is_null()) {
    if (!model["dropout"].is_number() || model["dropout"].get<double>() != 0.0) {
      bad(origin, "model.dropout", "BPE dropout is not supported", "set it to null");
    }
  }
  if (get_bool(model, "byte_fallback", false, origin, "model")) {
    bad(origin, "model.byte_fallback", "byte_fallback is not supported", "byte-level BPE does not need it");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() &&
        !(model[key].is_string() && model[key].get<std::string>().empty())) {
      bad(origin, std::string("model.") + key, "is set, which is not supported", "set it to null");
    }
  }
  return model;
}

// model.vocab as a table indexed by id (unique, in range, non-empty tokens).
std::vector<std::string> parse_vocab(const json& model, const std::string& origin) {
  std::vector<std::string> vocab;
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    const std::string path = "model.vocab[\"" + it.key() + "\"]";
    if (!it.value().is_number_integer())
      bad(origin, path, "expected an integer id, got " + it.value().dump());
    long long id = it.value().get<long long>();
    if (id < 0 || id >= kMaxId) bad(origin, path, "id " + std::to_string(id) + " is out of range");
    if (it.key().empty()) bad(origin, path, "empty token string");
    if (static_cast<size_t>(id) >= vocab.size()) vocab.resize(id + 1);
    if (!vocab[id].empty()) {
      bad(origin, path, "id " + std::to_string(id) + " is also used by \"" + vocab[id] + "\"");
    }
    vocab[id] = it.key();
  }
  if (vocab.empty()) bad(origin, "model.vocab", "the vocabulary is empty");
  return vocab;
}

// model.merges as id pairs, in either form ("a b" or ["a", "b"]); both parts and their join must be in
// `vindex`.
std::vector<std::pair<int32_t, int32_t>> parse_merges(const json& model, const StringIdIndex& vindex,
                                                      const std::string& origin) {
  const json& jmerges = model["merges"];
  std::vector<std::pair<int32_t, int32_t>> merges;
  merges.reserve(jmerges.size());
  std::string joined;
  for (size_t i = 0; i < jmerges.size(); ++i) {
    const json& m = jmerges[i];
    const std::string path = "model.merges[" + std::to_string(i) + "]";
    std::string a;
    std::string b;
    if (m.is_string()) {
      // Legacy form "a b": tokens never hold a plain space in a byte-level vocabulary.
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() ||
          s.find(' ', sp + 1) != std::string::npos) {
        bad(origin, path, "merge \"" + s + "\" is not two tokens separated by one space");
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      bad(origin, path, "expected \"a b\" or [\"a\", \"b\"], got " + m.dump().substr(0, 80));
    }
    int32_t ia = vindex.find(a);
    int32_t ib = vindex.find(b);
    if (ia < 0 || ib < 0) {
      bad(origin, path, "merge token \"" + (ia < 0 ? a : b) + "\" is not in the vocabulary");
    }
    joined = a + b;
    if (vindex.find(joined) < 0)
      bad(origin, path, "merged token \"" + joined + "\" is not in the vocabulary");
    merges.emplace_back(ia, ib);
  }
  return merges;
}

// The "added_tokens" array (absent or null: none), appended to `added` in file order.
void parse_added_tokens(const json& root, const std::string& origin, std::vector<AddedToken>& added) {
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
  const json& at = root["added_tokens"];
  if (!at.is_array()) bad(origin, "added_tokens", "expected an array");
  for (size_t i = 0; i < at.size(); ++i) {
    const json& t = at[i];
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object()) bad(origin, path, "expected an object");
    if (!t.contains("id") || !t["id"].is_number_integer())
      bad(origin, path + ".id", "missing or not an integer");
    if (!t.contains("content") || !t["content"].is_string()) {
      bad(origin, path + ".content", "missing or not a string");
    }
    AddedToken a;
    long long id = t["id"].get<long long>();
    if (id < 0 || id >= kMaxId) bad(origin, path + ".id", "id " + std::to_string(id) + " is out of range");
    a.id = static_cast<int32_t>(id);
    a.content = t["content"].get<std::string>();
    if (a.content.empty()) bad(origin, path + ".content", "empty added token");
    if (utf8_first_invalid(a.content) >= 0) bad(origin, path + ".content", "not valid UTF-8");
    a.special = get_bool(t, "special", false, origin, path);
    a.single_word = get_bool(t, "single_word", false, origin, path);
    a.lstrip = get_bool(t, "lstrip", false, origin, path);
    a.rstrip = get_bool(t, "rstrip", false, origin, path);
    a.normalized = get_bool(t, "normalized", !a.special, origin, path);
    // A repeated id or content replaces the earlier entry, as HF's maps do.
    for (size_t k = 0; k < added.size(); ++k) {
      if (added[k].id == a.id || added[k].content == a.content) {
        added.erase(added.begin() + k);
        break;
      }
    }
    added.push_back(std::move(a));
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& origin) {
  if (json_text.find_first_not_of(" \t\r\n") == std::string::npos) {
    bad(origin, "", "empty tokenizer file", "expected a Hugging Face tokenizer.json object");
  }
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    bad(origin, "", std::string("not valid JSON: ") + e.what(), "expected a Hugging Face tokenizer.json");
  }
  if (!root.is_object())
    bad(origin, "", "expected a JSON object at the top level, got " + std::string(root.type_name()));

  Tokenizer tok;
  Impl& im = *tok.impl_;
  im.origin = origin;

  check_unsupported_parts(root, origin);
  parse_pre_tokenizer(root, origin, &im.pre);
  PostProcessor post;
  parse_post_processor(root, origin, &post);
  im.trim_offsets = post.trim;
  im.trim_add_prefix_space = post.trim_add_prefix_space;
  im.template_prefix = std::move(post.prefix);
  im.template_suffix = std::move(post.suffix);
  if (!root.contains("decoder") || type_of(root["decoder"]) != "ByteLevel") {
    std::string got = root.contains("decoder") ? root["decoder"].dump() : "missing";
    bad(origin, "decoder", "expected a ByteLevel decoder, got " + got.substr(0, 80));
  }

  // ---- model ----
  const json& model = checked_model(root, origin);
  std::vector<std::string> vocab = parse_vocab(model, origin);
  BpeOptions opt;
  opt.fuse_unk = get_bool(model, "fuse_unk", false, origin, "model");
  opt.ignore_merges = get_bool(model, "ignore_merges", false, origin, "model");
  // Index for the merge checks; BpeModel builds its own when it takes the vocabulary.
  StringIdIndex vindex;
  vindex.build(vocab);
  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    if (!model["unk_token"].is_string()) bad(origin, "model.unk_token", "expected a string or null");
    std::string unk = model["unk_token"].get<std::string>();
    opt.unk_id = vindex.find(unk);
    if (opt.unk_id < 0) bad(origin, "model.unk_token", "unk token \"" + unk + "\" is not in the vocabulary");
  }
  std::vector<std::pair<int32_t, int32_t>> merges = parse_merges(model, vindex, origin);
  im.bpe.build(std::move(vocab), std::move(merges), opt);

  // ---- added tokens ----
  parse_added_tokens(root, origin, im.added);
  for (size_t k = 0; k < im.added.size(); ++k) {
    const AddedToken& a = im.added[k];
    (a.normalized ? im.match_norm : im.match_raw).add(a.content, static_cast<int32_t>(k));
  }
  im.match_raw.finalize();
  im.match_norm.finalize();
  im.finish();
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, std::vector<Offset>* offsets,
                                       bool add_special_tokens) const {
  std::vector<int32_t> ids = encode(text, offsets);
  const Impl& im = *impl_;
  if (!add_special_tokens || (im.template_prefix.empty() && im.template_suffix.empty())) return ids;
  // Template tokens get offsets (0, 0), as in HF (after ByteLevel's trimming, which came first).
  ids.insert(ids.begin(), im.template_prefix.begin(), im.template_prefix.end());
  ids.insert(ids.end(), im.template_suffix.begin(), im.template_suffix.end());
  if (offsets) {
    offsets->insert(offsets->begin(), im.template_prefix.size(), Offset{0, 0});
    offsets->insert(offsets->end(), im.template_suffix.size(), Offset{0, 0});
  }
  return ids;
}

const std::vector<int32_t>& Tokenizer::template_prefix() const { return impl_->template_prefix; }
const std::vector<int32_t>& Tokenizer::template_suffix() const { return impl_->template_suffix; }

std::vector<int32_t> Tokenizer::encode(std::string_view text, std::vector<Offset>* offsets) const {
  const Impl& im = *impl_;
  std::vector<int32_t> ids;
  if (offsets) offsets->clear();
  if (text.empty()) return ids;
  long long bad_at = utf8_first_invalid(text);
  if (bad_at >= 0) {
    fail("tokenizer input is not valid UTF-8 at byte offset " + std::to_string(bad_at) + " (byte 0x" +
         [](uint8_t b) {
           const char* hex = "0123456789ABCDEF";
           return std::string{hex[b >> 4], hex[b & 15]};
         }(static_cast<uint8_t>(text[bad_at])) +
         ")");
  }
  if (text.size() >= 0xFFFFFFFFu) fail("tokenizer input is larger than 4 GiB");
  const uint32_t n = static_cast<uint32_t>(text.size());
  ids.reserve(n / 3 + 8);

  // Code-point index of every byte, for offsets.
  std::vector<int32_t> char_of;
  if (offsets) {
    char_of.resize(n + 1);
    int32_t c = -1;
    for (uint32_t k = 0; k < n; ++k) {
      if ((static_cast<uint8_t>(text[k]) & 0xC0) != 0x80) ++c;
      char_of[k] = c;
    }
    char_of[n] = c + 1;
  }

  // Added tokens first: non-normalized on the whole input, then normalized ones on what is left.
  std::vector<Segment> segments;
  if (im.match_raw.empty()) {
    segments.push_back({0, n, -1});
  } else {
    im.split_added(text, 0, n, im.match_raw, segments);
  }
  if (!im.match_norm.empty()) {
    std::vector<Segment> second;
    for (const Segment& s : segments) {
      if (s.added >= 0) {
        second.push_back(s);
      } else {
        im.split_added(text, s.begin, s.end, im.match_norm, second);
      }
    }
    segments.swap(second);
  }

  struct TrimOverride {
    size_t index;
    int32_t lead;
    int32_t trail;
  };
  std::vector<TrimOverride> trim_override;
  std::vector<PreToken> pretokens;
  std::vector<uint32_t> scratch;
  std::vector<BpeToken> toks;
  std::string prefixed;
  for (const Segment& seg : segments) {
    if (seg.added >= 0) {
      ids.push_back(im.added[seg.added].id);
      if (offsets) offsets->emplace_back(char_of[seg.begin], char_of[seg.end - 1] + 1);
      // An lstrip/rstrip match took in whitespace: HF's token string is then the matched text, and
      // trim_offsets counts the spaces of that text rather than of the token's content.
      if (offsets && im.trim_offsets && seg.end - seg.begin != im.added[seg.added].content.size()) {
        auto [lead, trail] = space_counts(text.substr(seg.begin, seg.end - seg.begin));
        trim_override.push_back({ids.size() - 1, lead, trail});
      }
      continue;
    }
    pretokens.clear();
    pre_tokenize(text, seg.begin, seg.end, im.pre, pretokens, scratch);
    for (const PreToken& pt : pretokens) {
      toks.clear();
      std::string_view bytes = text.substr(pt.begin, pt.end - pt.begin);
      if (pt.prefixed) {
        prefixed.assign(1, ' ');
        prefixed.append(bytes.data(), bytes.size());
        bytes = prefixed;
      }
      im.bpe.tokenize(bytes, toks);
      for (const BpeToken& t : toks) {
        ids.push_back(t.id);
        if (!offsets) continue;
        // Pre-token byte k is input byte begin + k, or begin + k - 1 after a virtual prefix space (which
        // itself belongs to the character at begin).
        uint32_t first = pt.begin + static_cast<uint32_t>(t.first);
        uint32_t last = pt.begin + static_cast<uint32_t>(t.last);
        if (pt.prefixed) {
          first = t.first > 0 ? first - 1 : pt.begin;
          last = t.last > 0 ? last - 1 : pt.begin;
        }
        offsets->emplace_back(char_of[first], char_of[last] + 1);
      }
    }
  }

  if (offsets && im.trim_offsets) {
    size_t next_override = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      Offset& o = (*offsets)[i];
      int32_t lead = im.lead_spaces[ids[i]];
      int32_t trail = im.trail_spaces[ids[i]];
      if (next_override < trim_override.size() && trim_override[next_override].index == i) {
        lead = trim_override[next_override].lead;
        trail = trim_override[next_override].trail;
        ++next_override;
      }
      if (lead > 0) {
        bool is_first = i == 0 || o.first == 0;
        if (is_first && im.trim_add_prefix_space && lead == 1) lead = 0;
        o.first = std::min(o.first + lead, o.second);
      }
      if (trail > 0 && o.second >= trail) o.second = std::max(o.second - trail, o.first);
    }
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& im = *impl_;
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    // Unknown ids are dropped, as HF does.
    if (id < 0 || id >= im.vocab_size) continue;
    if (skip_special_tokens && im.id_added[id] >= 0 && im.added[im.id_added[id]].special) continue;
    bytes += im.id_bytes[id];
  }
  if (utf8_first_invalid(bytes) < 0) return bytes;
  return utf8_lossy(bytes);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  int32_t k = impl_->added_index.find(token);
  if (k >= 0) return impl_->added[k].id;
  return impl_->bpe.token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  const Impl& im = *impl_;
  if (id < 0 || id >= im.vocab_size) return "";
  if (im.id_added[id] >= 0) return im.added[im.id_added[id]].content;
  if (id < static_cast<int32_t>(im.bpe.vocab().size())) return im.bpe.vocab()[id];
  return "";
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

std::string_view Tokenizer::id_to_bytes(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return {};
  return impl_->id_bytes[id];
}

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size || impl_->id_added[id] < 0) return false;
  return impl_->added[impl_->id_added[id]].special;
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_->id_to_bytes(id);
  int tail = utf8_incomplete_tail(pending_);
  std::string_view ready(pending_.data(), pending_.size() - tail);
  std::string out = utf8_first_invalid(ready) < 0 ? std::string(ready) : utf8_lossy(ready);
  pending_.erase(0, ready.size());
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace prospect::text
