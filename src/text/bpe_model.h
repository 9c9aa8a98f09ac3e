// The BPE model of a byte-level tokenizer: vocabulary, ranked merges and the merge loop that turns one
// pre-token's bytes into token ids, with a thread-safe word cache. Kept in the plain shape of tokenizer.json
// (token string per id, merges as id pairs in rank order) so it is easy to write back.
// Does not parse JSON (tokenizer.cpp does), split text, or handle added tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prospect::text {

// Open-addressing map from a string to an id, where the strings live in a caller-owned vector indexed by
// id (so the map stores only ids). Lookups allocate nothing.
class StringIdIndex {
 public:
  // Indexes strings[id] for every id with a non-empty string; a later id wins on duplicates. Keeps a pointer
  // to the vector's elements (which survive moving the vector), so the vector must not be resized afterwards.
  void build(const std::vector<std::string>& strings);
  // Id of s, or -1.
  int32_t find(std::string_view s) const;

 private:
  const std::string* strings_ = nullptr;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

// Open-addressing map from a pair of ids to (rank, merged id).
class PairMergeMap {
 public:
  void reserve(size_t n);
  // Inserts or overwrites (HF builds its map from the merge list, so a repeated pair keeps the last rank).
  void insert(int32_t a, int32_t b, int32_t rank, int32_t merged);
  // True and sets rank/merged when (a, b) is a merge.
  bool find(int32_t a, int32_t b, int32_t* rank, int32_t* merged) const;
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint64_t key;
    int32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~0ull;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

// One token of a pre-token: its id and the pre-token bytes [first, last] it covers (inclusive).
struct BpeToken {
  int32_t id;
  int32_t first;
  int32_t last;
};

struct BpeOptions {
  int32_t unk_id = -1;         // HF unk_token; -1: symbols missing from the vocabulary are dropped
  bool fuse_unk = false;       // consecutive unknown symbols become one unk token
  bool ignore_merges = false;  // a pre-token that is itself in the vocabulary is one token
};

class BpeModel {
 public:
  BpeModel();
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;

  // Takes the vocabulary (token string per id, "" for unused ids) and merges (id pairs, rank order); each
  // merge's result must be in the vocabulary (the loader checks and reports it). Never fails.
  void build(std::vector<std::string> vocab, std::vector<std::pair<int32_t, int32_t>> merges, BpeOptions opt);

  // Tokens of one pre-token's raw bytes, appended to `out`. Thread-safe.
  void tokenize(std::string_view bytes, std::vector<BpeToken>& out) const;

  // Id of a vocabulary string (byte-level characters, e.g. "Ġthe"), or -1.
  int32_t token_to_id(std::string_view token) const { return index_.find(token); }
  const std::vector<std::string>& vocab() const { return vocab_; }
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }
  const BpeOptions& options() const { return opt_; }
  // Id of the single-byte token for byte b, or -1 when the vocabulary lacks it.
  int32_t byte_id(uint8_t b) const { return byte_id_[b]; }

 private:
  void tokenize_uncached(std::string_view bytes, std::vector<BpeToken>& out) const;

  std::vector<std::string> vocab_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  StringIdIndex index_;
  PairMergeMap merge_map_;
  BpeOptions opt_;
  int32_t byte_id_[256];
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

// The byte-level string (GPT-2 alphabet) of raw bytes, e.g. " the" -> "Ġthe".
std::string bytes_to_byte_level(std::string_view bytes);
// The raw bytes of a token string: each character mapped back through the byte-level alphabet; a token with
// a character outside the alphabet is returned as its own UTF-8 bytes (what HF's ByteLevel decoder does).
std::string byte_level_to_bytes(std::string_view token);

}  // namespace prospect::text
