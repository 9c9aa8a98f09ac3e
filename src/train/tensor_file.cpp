// Named tensors <-> safetensors (see tensor_file.h), on top of the project's torch-free safetensors code.
#include "train/tensor_file.h"

#include <cstring>

#include "core/error.h"
#include "core/safetensors.h"

namespace prospect::train {

namespace st = prospect::safetensors;

namespace {

st::DType to_st(at::ScalarType t, const std::string& name) {
  switch (t) {
    case at::kFloat: return st::DType::F32;
    case at::kDouble: return st::DType::F64;
    case at::kBFloat16: return st::DType::BF16;
    case at::kHalf: return st::DType::F16;
    case at::kLong: return st::DType::I64;
    case at::kInt: return st::DType::I32;
    case at::kByte: return st::DType::U8;
    case at::kBool: return st::DType::BOOL;
    default: fail("tensor '" + name + "': dtype " + std::string(c10::toString(t)) + " cannot be saved");
  }
}

at::ScalarType from_st(st::DType d, const std::string& where) {
  switch (d) {
    case st::DType::F32: return at::kFloat;
    case st::DType::F64: return at::kDouble;
    case st::DType::BF16: return at::kBFloat16;
    case st::DType::F16: return at::kHalf;
    case st::DType::I64: return at::kLong;
    case st::DType::I32: return at::kInt;
    case st::DType::U8: return at::kByte;
    case st::DType::BOOL: return at::kBool;
    default: fail(where + ": dtype " + std::string(st::dtype_name(d)) + " is not used by trainer state");
  }
}

}  // namespace

void save_tensor_file(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> keep;  // owns the CPU copies while write_file reads them
  std::vector<st::WriteTensor> out;
  keep.reserve(tensors.size());
  out.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    keep.push_back(t.detach().to(at::kCPU).contiguous());
    const at::Tensor& c = keep.back();
    st::WriteTensor w;
    w.name = name;
    w.dtype = to_st(c.scalar_type(), name);
    w.shape.assign(c.sizes().begin(), c.sizes().end());
    w.data = c.data_ptr();
    w.nbytes = c.numel() * c.element_size();
    out.push_back(std::move(w));
  }
  st::write_file(path, out, metadata);
}

std::map<std::string, at::Tensor> load_tensor_file(const std::string& path) {
  auto file = st::File::open(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& name : file->names()) {
    st::TensorView v = file->get(name);
    auto dtype = from_st(v.info->dtype, path + ": tensor '" + name + "'");
    at::Tensor t = at::empty(v.info->shape, at::TensorOptions().dtype(dtype));
    if (v.info->nbytes() != static_cast<uint64_t>(t.numel() * t.element_size()))
      fail(path + ": tensor '" + name + "' has the wrong byte size");
    if (t.numel() > 0) std::memcpy(t.data_ptr(), v.data, v.info->nbytes());
    out.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace prospect::train
