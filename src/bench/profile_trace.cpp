// ProfileSession (profile_trace.h): libtorch's Kineto profiler driven from C++, CPU activity only.
#include "bench/profile_trace.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_kineto.h>

#include <fstream>
#include <set>

#include "core/error.h"

namespace prospect::bench {

namespace kineto = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

struct ProfileSession::Impl {
  std::string name;                           // of the open span (RecordFunction keeps a view of it)
  std::unique_ptr<at::RecordFunction> scope;  // the open step span, if any
  bool running = false;
};

namespace {

const std::set<impl::ActivityType>& cpu_only() {
  static const std::set<impl::ActivityType> a = {impl::ActivityType::CPU};
  return a;
}

}  // namespace

ProfileSession::ProfileSession() : impl_(std::make_unique<Impl>()) {
  if (impl::ProfilerStateBase::get(/*global=*/false) != nullptr)
    fail("--profile-trace: the PyTorch profiler is already running in this process");
  const impl::ProfilerConfig config(impl::ProfilerState::KINETO, /*report_input_shapes=*/false,
                                    /*profile_memory=*/false, /*with_stack=*/false, /*with_flops=*/false,
                                    /*with_modules=*/false);
  kineto::prepareProfiler(config, cpu_only());
  kineto::enableProfiler(config, cpu_only());
  impl_->running = true;
}

ProfileSession::~ProfileSession() {
  if (!impl_->running) return;
  try {
    impl_->scope.reset();
    (void)kineto::disableProfiler();
  } catch (...) {  // a destructor: the profile is dropped either way
  }
}

void ProfileSession::begin_step(const std::string& name) {
  impl_->scope.reset();
  impl_->name = name;
  // A RecordFunction picks its observers when it is constructed: made here, while the profiler runs.
  impl_->scope = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
  if (impl_->scope->isActive()) impl_->scope->before(impl_->name, c10::ArrayRef<const c10::IValue>{});
}

void ProfileSession::end_step() { impl_->scope.reset(); }

void ProfileSession::save(const std::string& path) {
  if (!impl_->running) fail("--profile-trace: the profile was already saved");
  impl_->scope.reset();
  std::unique_ptr<kineto::ProfilerResult> result = kineto::disableProfiler();
  impl_->running = false;
  {
    std::ofstream probe(path);  // Kineto's writer only logs a failure: check the path first
    if (!probe) fail("--profile-trace: cannot write " + path);
  }
  result->save(path);
  std::ifstream back(path);
  if (!back || back.peek() == std::ifstream::traits_type::eof())
    fail("--profile-trace: the profiler wrote no trace to " + path);
}

std::string tagged_trace_path(const std::string& path, const std::string& tag) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  const size_t base = slash == std::string::npos ? 0 : slash + 1;
  if (dot == std::string::npos || dot <= base) return path + "." + tag;
  return path.substr(0, dot) + "." + tag + path.substr(dot);
}

std::string frozen_trace_path(const std::string& path) { return tagged_trace_path(path, "frozen"); }

std::string stream_trace_path(const std::string& path) { return tagged_trace_path(path, "stream"); }

}  // namespace prospect::bench
