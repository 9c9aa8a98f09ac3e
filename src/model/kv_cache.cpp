// KV cache storage (see kv_cache.h).
#include "model/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace prospect::model {

int64_t KVCache::begin(const at::Tensor& new_mask) {
  at::Tensor m = new_mask.to(at::kBool);
  if (m.dim() != 2) fail("KV cache: the attention mask must be [B, T], got " + c10::str(m.sizes()));
  if (mask_.defined() && length_ > 0 && mask_.size(0) != m.size(0))
    fail("KV cache: batch size changed from " + std::to_string(mask_.size(0)) + " to " +
             std::to_string(m.size(0)),
         "clear() the cache before feeding another batch");
  past_ = length_;
  mask_ = length_ > 0 ? at::cat({mask_.narrow(1, 0, length_).to(m.device()), m}, 1) : m;
  length_ = past_ + m.size(1);
  if (filled_.size() != k_.size()) filled_.assign(k_.size(), 0);
  return past_;
}

std::pair<at::Tensor, at::Tensor> KVCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  if (layer < 0 || layer >= num_layers()) fail("KV cache: layer " + std::to_string(layer) + " out of range");
  if (filled_.size() != k_.size()) filled_.assign(k_.size(), 0);
  if (filled_[layer] != past_)
    fail("KV cache: layer " + std::to_string(layer) + " holds " + std::to_string(filled_[layer]) +
             " tokens but the pass started at " + std::to_string(past_),
         "call begin() once per forward pass");
  int64_t t = k.size(2);
  int64_t total = past_ + t;
  at::Tensor& ks = k_[layer];
  at::Tensor& vs = v_[layer];
  if (at::GradMode::is_enabled()) {
    // Concatenation keeps the autograd graph through earlier chunks.
    ks = past_ > 0 ? at::cat({ks.narrow(2, 0, past_), k}, 2) : k;
    vs = past_ > 0 ? at::cat({vs.narrow(2, 0, past_), v}, 2) : v;
  } else {
    if (!ks.defined() || ks.size(2) < total || ks.size(0) != k.size(0) ||
        ks.scalar_type() != k.scalar_type() || ks.device() != k.device()) {
      int64_t cap = std::max<int64_t>({total, ks.defined() ? 2 * ks.size(2) : total, reserve_});
      at::Tensor nk = at::empty({k.size(0), k.size(1), cap, k.size(3)}, k.options());
      at::Tensor nv = at::empty({v.size(0), v.size(1), cap, v.size(3)}, v.options());
      if (past_ > 0) {
        nk.narrow(2, 0, past_).copy_(ks.narrow(2, 0, past_));
        nv.narrow(2, 0, past_).copy_(vs.narrow(2, 0, past_));
      }
      ks = nk;
      vs = nv;
    }
    ks.narrow(2, past_, t).copy_(k);
    vs.narrow(2, past_, t).copy_(v);
  }
  filled_[layer] = total;
  return {ks.narrow(2, 0, total), vs.narrow(2, 0, total)};
}

void KVCache::truncate(int64_t n) {
  if (n < 0 || n > length_)
    fail("KV cache: cannot truncate to " + std::to_string(n) + " tokens, it holds " +
         std::to_string(length_));
  length_ = n;
  past_ = n;
  for (auto& f : filled_) f = std::min(f, n);
  if (mask_.defined()) mask_ = n > 0 ? mask_.narrow(1, 0, n) : at::Tensor();
  if (n == 0) {
    // Free the storage: a cleared cache should not pin memory.
    for (auto& t : k_) t = at::Tensor();
    for (auto& t : v_) t = at::Tensor();
  }
}

int64_t KVCache::bytes() const {
  int64_t b = 0;
  for (const auto& t : k_)
    if (t.defined()) b += t.numel() * t.element_size();
  for (const auto& t : v_)
    if (t.defined()) b += t.numel() * t.element_size();
  return b;
}

}  // namespace prospect::model
