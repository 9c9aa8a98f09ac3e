// Host-to-device copies that do not stall the host. On CUDA a CPU tensor is staged in pinned (page-locked)
// memory and copied with non_blocking=true, so the copy is queued behind the work already on the stream and
// the host goes on preparing the next step (libtorch's caching host allocator keeps the staging block alive
// until the copy has run). Elsewhere it is a plain .to(). Not here: device selection, streams.
#pragma once
#include <ATen/ATen.h>

namespace prospect {

// `t` on `device`, converted to `dtype` (Undefined: keep t's dtype). The conversion runs on the device after
// the copy, so a float32 frame crosses the bus once and becomes bf16 there.
inline at::Tensor to_device_async(const at::Tensor& t, const at::Device& device,
                                  at::ScalarType dtype = at::ScalarType::Undefined) {
  const at::ScalarType want = dtype == at::ScalarType::Undefined ? t.scalar_type() : dtype;
  if (!device.is_cuda() || !t.device().is_cpu()) return t.to(device, want);
  at::Tensor staged = t.is_pinned() ? t : t.contiguous().pin_memory();
  at::Tensor out = staged.to(device, staged.scalar_type(), /*non_blocking=*/true);
  return out.scalar_type() == want ? out : out.to(want);
}

}  // namespace prospect
