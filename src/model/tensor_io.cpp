// safetensors <-> at::Tensor (see tensor_io.h).
#include "model/tensor_io.h"

#include <cstring>

#include "core/error.h"

namespace prospect::model {

namespace st = prospect::safetensors;

at::ScalarType to_scalar_type(st::DType d) {
  switch (d) {
    case st::DType::F64:
      return at::kDouble;
    case st::DType::F32:
      return at::kFloat;
    case st::DType::F16:
      return at::kHalf;
    case st::DType::BF16:
      return at::kBFloat16;
    case st::DType::I64:
      return at::kLong;
    case st::DType::I32:
      return at::kInt;
    case st::DType::I16:
      return at::kShort;
    case st::DType::I8:
      return at::kChar;
    case st::DType::U8:
      return at::kByte;
    case st::DType::BOOL:
      return at::kBool;
  }
  return at::kFloat;
}

st::DType to_st_dtype(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return st::DType::F64;
    case at::kFloat:
      return st::DType::F32;
    case at::kHalf:
      return st::DType::F16;
    case at::kBFloat16:
      return st::DType::BF16;
    case at::kLong:
      return st::DType::I64;
    case at::kInt:
      return st::DType::I32;
    case at::kShort:
      return st::DType::I16;
    case at::kChar:
      return st::DType::I8;
    case at::kByte:
      return st::DType::U8;
    case at::kBool:
      return st::DType::BOOL;
    default:
      break;
  }
  fail(std::string("safetensors cannot hold torch dtype ") + c10::toString(t));
}

at::Tensor to_tensor(const st::TensorView& v) {
  at::Tensor t = at::empty(v.info->shape, at::TensorOptions().dtype(to_scalar_type(v.info->dtype)));
  // safetensors::File checks each range against the file and its shape x dtype; this re-check keeps a view
  // from elsewhere from overrunning the tensor.
  if (v.info->nbytes() != static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size()))
    fail("tensor '" + v.info->name + "': " + std::to_string(v.info->nbytes()) + " bytes for " +
         std::to_string(t.numel()) + " elements of " + c10::toString(t.scalar_type()));
  // The mapped bytes may be unaligned for the element type: memcpy, never reinterpret.
  if (v.info->nbytes() > 0) std::memcpy(t.data_ptr(), v.data, v.info->nbytes());
  return t;
}

std::map<std::string, at::Tensor> load_tensors(const std::string& path) {
  auto f = st::File::open(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& name : f->names()) {
    try {
      out[name] = to_tensor(f->get(name));
    } catch (const Error& e) {
      fail(file_context(path), e.what());
    }
  }
  return out;
}

void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> keep;  // holds the contiguous CPU copies alive until written
  std::vector<st::WriteTensor> ws;
  keep.reserve(tensors.size());
  for (const auto& nt : tensors) {
    if (!nt.second.defined()) fail(path + ": tensor '" + nt.first + "' is undefined");
    at::Tensor c = nt.second.detach().to(at::kCPU).contiguous();
    keep.push_back(c);
    st::WriteTensor w;
    w.name = nt.first;
    try {
      w.dtype = to_st_dtype(c.scalar_type());
    } catch (const Error& e) {
      fail(path + ": tensor '" + nt.first + "': " + e.what());
    }
    w.shape = c.sizes().vec();
    w.data = c.data_ptr();
    w.nbytes = static_cast<size_t>(c.numel()) * c.element_size();
    ws.push_back(w);
  }
  st::write_file(path, ws, metadata);
}

}  // namespace prospect::model
