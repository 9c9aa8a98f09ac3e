// Shared pieces of the extension module prospect._prospect (python/prospect/, docs/PYTHON.md): tensors to and
// from Python through torch's own bridge (the same libtorch on both sides, so no copies), the clip handle the
// Python classes share, and the registration functions of each binding file. Not here: Python-side
// conveniences (python/prospect/*.py).
#pragma once
#include <torch/extension.h>

#include <memory>
#include <string>

#include "data/clip.h"

namespace prospect::py_bind {

namespace py = pybind11;

// A torch.Tensor sharing `t`'s storage.
inline py::object tensor_to_py(const at::Tensor& t) {
  return py::reinterpret_steal<py::object>(THPVariable_Wrap(t));
}

// The at::Tensor of a torch.Tensor (shared storage); a TypeError naming `what` for anything else.
inline at::Tensor tensor_from_py(py::handle h, const char* what) {
  if (!THPVariable_Check(h.ptr()))
    throw py::type_error(std::string(what) + ": expected a torch.Tensor, got " +
                         std::string(py::str(py::type::of(h).attr("__name__"))));
  return THPVariable_Unpack(h.ptr());
}

// A str or os.PathLike as a path string (os.fspath); TypeError otherwise.
inline std::string fspath(py::handle h) {
  return py::str(py::module_::import("os").attr("fspath")(h)).cast<std::string>();
}

// A clip as Python holds it: shared, immutable.
using ClipPtr = std::shared_ptr<const data::Clip>;

// {"S1": "completed", ...} in step order.
py::dict state_to_py(const data::TaskState& st);

void register_data(py::module_& m);    // Clip, read_clips, validate, Tokenizer, Collator, SubClip, datasets
void register_stream(py::module_& m);  // Stream, evaluate

}  // namespace prospect::py_bind
