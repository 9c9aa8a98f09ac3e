// BPE merging as HF `tokenizers` does it (models/bpe/word.rs): symbols in a linked list, candidate merges
// in a min-heap ordered by (rank, position), stale heap entries skipped by re-checking the pair. Results are
// cached per pre-token in a sharded, mutex-protected map, so concurrent encodes share the cache.
#include "text/bpe_model.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "text/pretokenizer.h"
#include "text/unicode.h"

namespace prospect::text {
namespace {

size_t table_size_for(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  return cap;
}

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// Byte length of the byte-level character that stands for byte b (HF's offsets count those bytes).
inline int32_t byte_level_len(uint8_t b) { return byte_to_codepoint(b) < 0x80 ? 1 : 2; }

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  int32_t first;  // first pre-token byte
  int32_t end;    // one past the last pre-token byte
  int32_t nlen;   // length in byte-level characters' UTF-8 bytes (HF's offset unit)
  bool removed;
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t merged;
};

// std heap functions build a max-heap; this puts the lowest (rank, pos) on top.
inline bool heap_after(const Candidate& a, const Candidate& b) {
  if (a.rank != b.rank) return a.rank > b.rank;
  return a.pos > b.pos;
}

// A cache key carries its hash, computed once per lookup (std::hash<std::string> would redo it).
struct CacheKey {
  std::string bytes;
  size_t hash = 0;
  bool operator==(const CacheKey& o) const { return hash == o.hash && bytes == o.bytes; }
};
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const { return k.hash; }
};

// Per-thread scratch so the merge loop and cache lookups allocate nothing in steady state.
struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  CacheKey key;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

// ---- StringIdIndex ------------------------------------------------------------------------------

void StringIdIndex::build(const std::vector<std::string>& strings) {
  strings_ = strings.data();
  size_t n = 0;
  for (const auto& s : strings) n += s.empty() ? 0 : 1;
  slots_.assign(table_size_for(n), -1);
  mask_ = slots_.size() - 1;
  std::hash<std::string_view> h;
  for (size_t id = 0; id < strings.size(); ++id) {
    const std::string& s = strings[id];
    if (s.empty()) continue;
    size_t i = h(s) & mask_;
    while (slots_[i] >= 0 && strings[slots_[i]] != s) i = (i + 1) & mask_;
    slots_[i] = static_cast<int32_t>(id);
  }
}

int32_t StringIdIndex::find(std::string_view s) const {
  if (slots_.empty() || s.empty()) return -1;
  size_t i = std::hash<std::string_view>()(s) & mask_;
  while (true) {
    int32_t id = slots_[i];
    if (id < 0) return -1;
    if (strings_[id] == s) return id;
    i = (i + 1) & mask_;
  }
}

// ---- PairMergeMap -------------------------------------------------------------------------------

void PairMergeMap::reserve(size_t n) {
  slots_.assign(table_size_for(n), Slot{kEmpty, 0, 0});
  mask_ = slots_.size() - 1;
  count_ = 0;
}

void PairMergeMap::insert(int32_t a, int32_t b, int32_t rank, int32_t merged) {
  if ((count_ + 1) * 2 > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    reserve(std::max<size_t>(count_ + 1, old.size()));
    for (const Slot& s : old) {
      if (s.key != kEmpty)
        insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xFFFFFFFFu), s.rank,
               s.merged);
    }
  }
  uint64_t key = (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  size_t i = mix64(key) & mask_;
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
  if (slots_[i].key == kEmpty) ++count_;
  slots_[i] = Slot{key, rank, merged};
}

bool PairMergeMap::find(int32_t a, int32_t b, int32_t* rank, int32_t* merged) const {
  if (slots_.empty()) return false;
  uint64_t key = (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  size_t i = mix64(key) & mask_;
  while (true) {
    const Slot& s = slots_[i];
    if (s.key == key) {
      *rank = s.rank;
      *merged = s.merged;
      return true;
    }
    if (s.key == kEmpty) return false;
    i = (i + 1) & mask_;
  }
}

// ---- word cache ---------------------------------------------------------------------------------

struct BpeModel::Cache {
  static constexpr int kShards = 16;
  static constexpr size_t kMaxWordBytes = 256;  // longer pre-tokens are rare and not worth keeping
  static constexpr size_t kMaxPerShard = 8192;  // a full shard is cleared: simple and bounded
  struct Shard {
    std::mutex mu;
    std::unordered_map<CacheKey, std::vector<BpeToken>, CacheKeyHash> map;
  };
  Shard shards[kShards];
};

// ---- BpeModel -----------------------------------------------------------------------------------

BpeModel::BpeModel() : cache_(std::make_unique<Cache>()) { std::fill(byte_id_, byte_id_ + 256, -1); }
BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

void BpeModel::build(std::vector<std::string> vocab, std::vector<std::pair<int32_t, int32_t>> merges,
                     BpeOptions opt) {
  vocab_ = std::move(vocab);
  merges_ = std::move(merges);
  opt_ = opt;
  index_.build(vocab_);
  merge_map_.reserve(merges_.size());
  std::string joined;
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    auto [a, b] = merges_[rank];
    joined = vocab_[a];
    joined += vocab_[b];
    merge_map_.insert(a, b, static_cast<int32_t>(rank), index_.find(joined));
  }
  std::string one;
  for (int b = 0; b < 256; ++b) {
    one.clear();
    utf8_append(one, byte_to_codepoint(static_cast<uint8_t>(b)));
    byte_id_[b] = index_.find(one);
  }
  for (auto& shard : cache_->shards) {
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.map.clear();
  }
}

void BpeModel::tokenize(std::string_view bytes, std::vector<BpeToken>& out) const {
  if (bytes.empty()) return;
  if (!cache_ || bytes.size() > Cache::kMaxWordBytes) {
    tokenize_uncached(bytes, out);
    return;
  }
  size_t h = std::hash<std::string_view>()(bytes);
  Cache::Shard& shard = cache_->shards[(h >> 7) % Cache::kShards];
  Scratch& s = scratch();
  s.key.bytes.assign(bytes.data(), bytes.size());
  s.key.hash = h;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.map.find(s.key);
    if (it != shard.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t before = out.size();
  tokenize_uncached(bytes, out);
  std::vector<BpeToken> value(out.begin() + before, out.end());
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.map.size() >= Cache::kMaxPerShard) shard.map.clear();
  shard.map.emplace(s.key, std::move(value));
}

void BpeModel::tokenize_uncached(std::string_view bytes, std::vector<BpeToken>& out) const {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const int32_t n = static_cast<int32_t>(bytes.size());
  if (opt_.ignore_merges) {
    int32_t whole = index_.find(bytes_to_byte_level(bytes));
    if (whole >= 0) {
      out.push_back({whole, 0, n - 1});
      return;
    }
  }
  Scratch& s = scratch();
  std::vector<Symbol>& sym = s.symbols;
  sym.clear();
  // One symbol per byte (= per byte-level character). A byte missing from the vocabulary becomes the unk
  // token when there is one, else it is dropped and, as in HF, takes no room in the offsets that follow.
  bool dropped = false;
  Symbol unk{-1, 0, 0, 0, 0, 0, false};
  auto push = [&sym](Symbol x) {
    x.prev = static_cast<int32_t>(sym.size()) - 1;
    x.next = static_cast<int32_t>(sym.size()) + 1;
    sym.push_back(x);
  };
  for (int32_t k = 0; k < n; ++k) {
    int32_t id = byte_id_[p[k]];
    int32_t nlen = byte_level_len(p[k]);
    if (id >= 0) {
      if (unk.id >= 0) {
        push(unk);
        unk.id = -1;
      }
      push(Symbol{id, 0, 0, k, k + 1, nlen, false});
    } else if (opt_.unk_id >= 0) {
      if (unk.id >= 0 && opt_.fuse_unk) {
        unk.end = k + 1;
        unk.nlen += nlen;
      } else {
        if (unk.id >= 0) push(unk);
        unk = Symbol{opt_.unk_id, 0, 0, k, k + 1, nlen, false};
      }
    } else {
      dropped = true;
    }
  }
  if (unk.id >= 0) push(unk);
  if (sym.empty()) return;
  sym.back().next = -1;

  std::vector<Candidate>& heap = s.heap;
  heap.clear();
  int32_t rank = 0;
  int32_t merged = 0;
  for (size_t i = 0; i + 1 < sym.size(); ++i) {
    if (merge_map_.find(sym[i].id, sym[i + 1].id, &rank, &merged)) {
      heap.push_back({rank, static_cast<int32_t>(i), merged});
    }
  }
  std::make_heap(heap.begin(), heap.end(), heap_after);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), heap_after);
    Candidate top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[top.pos];
    if (cur.removed || cur.next < 0) continue;
    Symbol& right = sym[cur.next];
    // Stale entry: the pair at this position changed since it was queued.
    if (!merge_map_.find(cur.id, right.id, &rank, &merged) || merged != top.merged) continue;
    cur.id = top.merged;
    cur.end = right.end;
    cur.nlen += right.nlen;
    right.removed = true;
    cur.next = right.next;
    if (cur.next >= 0) sym[cur.next].prev = top.pos;
    if (cur.prev >= 0 && merge_map_.find(sym[cur.prev].id, cur.id, &rank, &merged)) {
      heap.push_back({rank, cur.prev, merged});
      std::push_heap(heap.begin(), heap.end(), heap_after);
    }
    if (cur.next >= 0 && merge_map_.find(cur.id, sym[cur.next].id, &rank, &merged)) {
      heap.push_back({rank, top.pos, merged});
      std::push_heap(heap.begin(), heap.end(), heap_after);
    }
  }

  if (!dropped) {
    for (const Symbol& x : sym) {
      if (!x.removed) out.push_back({x.id, x.first, x.end - 1});
    }
    return;
  }
  // HF lays the kept symbols' lengths end to end from offset 0 of the byte-level string and maps those
  // offsets back to input bytes; reproduce that so offsets match even in this odd case.
  std::vector<int32_t> nstart(n + 1, 0);  // byte-level offset where input byte k begins
  for (int32_t k = 0; k < n; ++k) nstart[k + 1] = nstart[k] + byte_level_len(p[k]);
  auto byte_at = [&nstart, n](int32_t off) {
    int32_t k =
        static_cast<int32_t>(std::upper_bound(nstart.begin(), nstart.end(), off) - nstart.begin()) - 1;
    return std::min(std::max(k, 0), n - 1);
  };
  int32_t pos = 0;
  for (const Symbol& x : sym) {
    if (x.removed) continue;
    out.push_back({x.id, byte_at(pos), byte_at(pos + x.nlen - 1)});
    pos += x.nlen;
  }
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8_append(out, byte_to_codepoint(static_cast<uint8_t>(c)));
  return out;
}

std::string byte_level_to_bytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    uint32_t cp = 0;
    int len = utf8_decode(token, pos, &cp);
    int b = len > 0 ? codepoint_to_byte(cp) : -1;
    if (b < 0) return std::string(token);
    out += static_cast<char>(b);
    pos += len;
  }
  return out;
}

}  // namespace prospect::text
