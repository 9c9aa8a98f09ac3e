// Byte-level BPE training (see bpe_trainer.h): count pre-tokenized words, merge the most frequent pair until
// the vocabulary is full.
#include "text/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "text/pretokenizer.h"

namespace prospect::text {

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

// Word counts: each text minus special-token strings, split by the pre-tokenizer; each word as byte symbols,
// in sorted word order.
std::vector<Word> count_words(const std::vector<std::string>& texts, const BpeTrainOptions& opt,
                              const int32_t (&byte_id)[256]) {
  PreTokenizerConfig cfg;
  cfg.digits = true;
  cfg.individual_digits = true;
  std::unordered_map<std::string, int64_t> counts;
  std::vector<PreToken> pieces;
  std::vector<uint32_t> scratch;
  std::vector<std::string> all_special = opt.leading_special;
  all_special.insert(all_special.end(), opt.trailing_special.begin(), opt.trailing_special.end());
  for (const std::string& text : texts) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t next = text.size(), skip = 0;
      for (const auto& sp : all_special) {
        size_t at = text.find(sp, pos);
        if (at != std::string::npos && at < next) {
          next = at;
          skip = sp.size();
        }
      }
      if (next > pos) {
        pieces.clear();
        pre_tokenize(text, uint32_t(pos), uint32_t(next), cfg, pieces, scratch);
        for (const auto& p : pieces) counts[text.substr(p.begin, p.end - p.begin)]++;
      }
      pos = next + skip;
    }
  }
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());  // deterministic order, whatever the hash map did
  std::vector<Word> words;
  for (const auto& [bytes, count] : sorted) {
    Word w;
    w.count = count;
    for (unsigned char c : bytes) w.symbols.push_back(byte_id[c]);
    words.push_back(std::move(w));
  }
  return words;
}

// Merge the most frequent symbol pair (ties: the smallest pair) until `vocab` holds all but the trailing
// specials or no pair reaches min_frequency. Appends new tokens to `vocab`, rewrites `words`, returns the
// merges in order.
std::vector<std::pair<int32_t, int32_t>> learn_merges(std::vector<Word>& words,
                                                      std::vector<std::string>& vocab,
                                                      const BpeTrainOptions& opt) {
  std::map<std::string, int32_t> index;
  for (size_t i = 0; i < vocab.size(); i++) index[vocab[i]] = int32_t(i);
  std::vector<std::pair<int32_t, int32_t>> merges;
  const int target = opt.vocab_size - int(opt.trailing_special.size());
  while (int(vocab.size()) < target) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pair_counts;
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.symbols.size(); i++)
        pair_counts[{w.symbols[i], w.symbols[i + 1]}] += w.count;
    std::pair<int32_t, int32_t> best{-1, -1};
    int64_t best_count = 0;
    for (const auto& [pair, c] : pair_counts)  // ascending pair order: the first maximum wins ties
      if (c > best_count) {
        best_count = c;
        best = pair;
      }
    if (best_count < opt.min_frequency || best.first < 0) break;
    std::string merged = vocab[best.first] + vocab[best.second];
    int32_t id;
    auto it = index.find(merged);
    if (it != index.end()) {
      id = it->second;
    } else {
      id = int32_t(vocab.size());
      vocab.push_back(merged);
      index[merged] = id;
    }
    merges.push_back(best);
    for (auto& w : words) {
      std::vector<int32_t> out;
      out.reserve(w.symbols.size());
      for (size_t i = 0; i < w.symbols.size(); i++) {
        if (i + 1 < w.symbols.size() && w.symbols[i] == best.first && w.symbols[i + 1] == best.second) {
          out.push_back(id);
          i++;
        } else {
          out.push_back(w.symbols[i]);
        }
      }
      w.symbols.swap(out);
    }
  }
  return merges;
}

// The tokenizer.json document (HF tokenizers layout) for the learned vocabulary and merges; appends the
// trailing specials to `vocab`.
nlohmann::ordered_json tokenizer_document(std::vector<std::string>& vocab,
                                          const std::vector<std::pair<int32_t, int32_t>>& merges,
                                          const BpeTrainOptions& opt) {
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  auto add_token = [&](int32_t id, const std::string& content) {
    added.push_back({{"id", id},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  };
  for (size_t i = 0; i < opt.leading_special.size(); i++) add_token(int32_t(i), opt.leading_special[i]);
  nlohmann::ordered_json vocab_json = nlohmann::ordered_json::object();
  for (size_t i = 0; i < vocab.size(); i++) vocab_json[vocab[i]] = int32_t(i);
  for (const auto& sp : opt.trailing_special) {
    int32_t id = int32_t(vocab.size());
    vocab.push_back(sp);
    add_token(id, sp);
  }
  nlohmann::ordered_json merges_json = nlohmann::ordered_json::array();
  for (const auto& [a, b] : merges) merges_json.push_back({vocab[a], vocab[b]});

  nlohmann::ordered_json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  nlohmann::ordered_json doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = added;
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}};
  doc["post_processor"] = nullptr;
  doc["decoder"] = {
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  doc["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", false},
                  {"vocab", vocab_json},
                  {"merges", merges_json}};
  return doc;
}

}  // namespace

nlohmann::ordered_json train_bpe_tokenizer(const std::vector<std::string>& texts,
                                           const BpeTrainOptions& opt) {
  const int specials = int(opt.leading_special.size() + opt.trailing_special.size());
  if (opt.vocab_size < 256 + specials)
    fail("BPE training: vocab_size " + std::to_string(opt.vocab_size) +
         " cannot hold the 256-symbol byte alphabet and " + std::to_string(specials) + " special tokens");

  // Vocabulary: leading specials, then the byte alphabet in byte order, then merges.
  std::vector<std::string> vocab(opt.leading_special.begin(), opt.leading_special.end());
  int32_t byte_id[256];
  for (int b = 0; b < 256; b++) {
    byte_id[b] = int32_t(vocab.size());
    std::string s;
    append_utf8(s, byte_to_codepoint(uint8_t(b)));
    vocab.push_back(s);
  }

  std::vector<Word> words = count_words(texts, opt, byte_id);
  const std::vector<std::pair<int32_t, int32_t>> merges = learn_merges(words, vocab, opt);
  return tokenizer_document(vocab, merges, opt);
}

}  // namespace prospect::text
