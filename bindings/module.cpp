// prospect._prospect, the extension module under the Python package python/prospect/ (docs/PYTHON.md): the
// module itself and its one exception class. Every prospect::Error becomes prospect.ProspectError carrying
// Prospect's message (file, clip, video_uid, turn, field); any other C++ exception a RuntimeError (pybind11
// translates everything thrown inside a binding), so bad input never takes the interpreter down.
#include "common.h"
#include "core/error.h"

PYBIND11_MODULE(_prospect, m) {
  namespace py = pybind11;
  m.doc() = "Prospect's C++ core (the collator, streaming engine and metrics of the prospect program)";
  // torch first: its types (torch.Tensor) must be registered before tensors cross.
  py::module_::import("torch");
  py::register_exception<prospect::Error>(m, "ProspectError", PyExc_Exception);
  prospect::py_bind::register_data(m);
  prospect::py_bind::register_stream(m);
}
