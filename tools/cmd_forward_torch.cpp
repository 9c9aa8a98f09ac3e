// `prospect forward`: one fp32 forward (and optionally backward) pass of a model directory on inputs laid out
// like the fixture's tiny_io.safetensors (input_ids, attention_mask, pixel_values, optional labels). Writes
// logits, image_hidden_states, last_hidden_state, loss and, with --grads, every parameter's gradient under its
// HF name, so outputs can be diffed against transformers. --device cuda runs it on the GPU with TF32 off (a
// parity run); outputs are written from the CPU either way. Not here: decision heads, generation, training.
#include <chrono>
#include <iostream>
#include <memory>
#include <torch/cuda.h>

#include "command.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "core/torch_threads.h"
#include "model/checkpoint.h"
#include "model/loss.h"
#include "model/tensor_io.h"

namespace {

struct ForwardOptions {
  std::string model;
  std::string inputs;
  std::string out;
  bool grads = false;
  int threads = 0;
  std::string attention = "eager";
  std::string device = "cpu";
};

int run_forward(const ForwardOptions& o) {
  using namespace prospect::model;
  prospect::set_compute_threads(o.threads);
  auto t0 = std::chrono::steady_clock::now();
  ModelOptions mo;
  if (o.attention == "sdpa") mo.attention = AttentionImpl::Sdpa;
  else if (o.attention != "eager") prospect::fail("--attention must be eager or sdpa, got '" + o.attention + "'");
  if (o.device == "cuda") {
    if (!torch::cuda::is_available()) prospect::fail("--device cuda: this build or machine has no CUDA device");
    mo.device = at::Device(at::kCUDA, 0);
    prospect::compat::set_tf32(false);  // fp32 parity: no TF32 matmuls
  } else if (o.device != "cpu") {
    prospect::fail("--device must be cpu or cuda, got '" + o.device + "'");
  }
  auto model = load_pretrained(o.model, mo);
  auto in = load_tensors(o.inputs);
  auto need = [&](const char* name) -> at::Tensor {
    auto it = in.find(name);
    if (it == in.end()) {
      prospect::ErrorContext ctx;
      ctx.file = o.inputs;
      ctx.field = name;
      prospect::fail(ctx, "missing input tensor", "expected input_ids [B,T] and optionally attention_mask, pixel_values, labels");
    }
    return it->second;
  };
  ForwardInput fi;
  fi.input_ids = need("input_ids").to(at::kLong);
  if (in.count("attention_mask")) fi.attention_mask = in.at("attention_mask");
  if (in.count("pixel_values")) fi.pixel_values = in.at("pixel_values").to(at::kFloat);
  bool has_labels = in.count("labels") > 0;
  if (o.grads && !has_labels) prospect::fail(o.inputs + ": --grads needs a 'labels' tensor to define the loss");
  at::Tensor loss;
  ForwardOutput out;
  {
    // Without --grads nothing needs a graph.
    std::unique_ptr<at::NoGradGuard> no_grad;
    if (!o.grads) no_grad = std::make_unique<at::NoGradGuard>();
    out = model->forward(fi);
    if (has_labels) {
      at::Tensor labels = in.at("labels").to(at::kLong);
      int64_t n = count_labelled_tokens(labels);
      if (n == 0) prospect::fail(o.inputs + ": 'labels' has no labelled token (all -100 after the shift)");
      loss = ce_sum_from_logits(out.logits, labels) / static_cast<double>(n);
    }
  }
  auto host = [](const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat); };
  NamedTensors result = {{"logits", host(out.logits)}, {"last_hidden_state", host(out.last_hidden_state)}};
  if (out.image_hidden_states.defined() && out.image_hidden_states.size(0) > 0)
    result.emplace_back("image_hidden_states", host(out.image_hidden_states));
  if (loss.defined()) result.emplace_back("loss", host(loss).reshape({1}));
  int64_t with_grad = 0;
  if (o.grads) {
    loss.backward();
    for (auto& p : model->hf_parameters()) {
      if (!p.second.grad().defined()) continue;
      result.emplace_back(p.first, p.second.grad().cpu());
      ++with_grad;
    }
  }
  save_tensors(o.out, result, {{"format", "pt"}});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "forward: " << fi.input_ids.size(0) << "x" << fi.input_ids.size(1) << " tokens, "
            << (out.image_hidden_states.defined() ? out.image_hidden_states.size(0) : 0) << " images";
  if (loss.defined()) std::cout << ", loss " << loss.item<double>();
  if (o.grads) std::cout << ", " << with_grad << " gradients";
  std::cout << " -> " << o.out << " (" << secs << " s)\n";
  return 0;
}

prospect::tools::Command reg(
    "forward", "Run the model once (fp32) on a safetensors batch and write its outputs (and gradients)",
    [](CLI::App& sub) {
      auto o = std::make_shared<ForwardOptions>();
      o->threads = prospect::tools::default_threads();
      sub.add_option("--model", o->model, "Model directory (config.json + model.safetensors or shards)")->required();
      sub.add_option("--inputs", o->inputs, "safetensors with input_ids [B,T], optional attention_mask, pixel_values [B,N,3,H,W], labels")
          ->required();
      sub.add_option("--out", o->out, "Output safetensors: logits, last_hidden_state, image_hidden_states, loss (+ gradients)")
          ->required();
      sub.add_flag("--grads", o->grads, "Also write the gradient of the loss for every parameter, under its HF name");
      sub.add_option("--threads", o->threads, "Compute threads (default: PROSPECT_THREADS or all cores)");
      sub.add_option("--attention", o->attention, "Attention implementation: eager (reference parity) or sdpa");
      sub.add_option("--device", o->device, "cpu or cuda (TF32 off)")->capture_default_str();
      return [o]() { return run_forward(*o); };
    });

}  // namespace
