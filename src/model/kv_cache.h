// The key/value cache of the language model, for incremental forward passes: a prompt, then one frame block
// (K image tokens + a few text tokens) at a time, then generated tokens, each appended in order. It holds,
// per decoder layer, keys and values [B, kv_heads, S, head_dim] (after RoPE), plus which of the S cached
// positions are real tokens (the attention mask of everything fed so far). truncate() drops the tail (undo a
// speculative block, or keep a prefix such as the system message before a context refresh); clear() empties
// it. Without autograd the storage grows by doubling and appends write in place; with autograd (training
// through a cache) appends concatenate, so gradients flow. Not here: which tokens to feed (src/stream).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace prospect::model {

class KVCache {
 public:
  KVCache() = default;
  explicit KVCache(int64_t num_layers) : k_(num_layers), v_(num_layers) {}

  // Tokens held (the S of every layer once a forward pass has finished).
  int64_t length() const { return length_; }
  int64_t num_layers() const { return static_cast<int64_t>(k_.size()); }
  bool empty() const { return length_ == 0; }
  // Which cached positions are real tokens: bool [B, S]; undefined while empty.
  const at::Tensor& key_mask() const { return mask_; }

  // Starts a forward pass over T new tokens whose attention mask is `new_mask` [B, T] (bool or 0/1 ints).
  // Returns the number of tokens before them. Throws prospect::Error when the batch size changes.
  int64_t begin(const at::Tensor& new_mask);
  // Stores layer `layer`'s new keys and values [B, kvh, T, d] after the ones already held, and returns all of
  // them [B, kvh, past + T, d]. Call once per layer between begin() and the next begin().
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  // Keeps the first n tokens (n <= length()). Throws prospect::Error for n > length().
  void truncate(int64_t n);
  void clear() { truncate(0); }
  // Sizes the storage for at least `tokens` tokens when it is next allocated (a streaming run that knows its
  // length allocates once instead of doubling and copying mid-stream). A hint: appends beyond it still grow.
  void reserve(int64_t tokens) { reserve_ = tokens; }
  // Bytes held by the storage (capacity, not length), for reporting.
  int64_t bytes() const;

 private:
  std::vector<at::Tensor> k_, v_;  // storage [B, kvh, capacity, d]; valid up to length_ (past_ during a pass)
  std::vector<int64_t> filled_;    // per layer: tokens written
  at::Tensor mask_;                // [B, length_] bool
  int64_t length_ = 0;
  int64_t past_ = 0;
  int64_t reserve_ = 0;
};

}  // namespace prospect::model
