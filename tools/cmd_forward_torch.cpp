// `prospect forward`: one fp32 forward (and optionally backward) pass of a model directory on inputs laid out
// like the fixture's tiny_io.safetensors (input_ids, attention_mask, pixel_values, optional labels). Writes
// logits, image_hidden_states, last_hidden_state, loss and, with --grads, every parameter's gradient under
// its HF name, so outputs can be diffed against transformers. --device cuda runs it on the GPU with TF32 off
// (a parity run); outputs are written from the CPU either way. --heads also applies the decision heads saved
// beside the model (prospect_heads.safetensors) to every position's final-norm hidden state and writes their
// logits (speak_logits, dst_logits [B, T]), so Python-side heads can be checked.
//
// The loss is the training loss of model.md §3 with its LM term alone: `labels` is the lm_labels stream (w_lm
// 1, no DST-generation stream, heads out of the loss), i.e. next-token CE summed over labelled tokens / their
// count — the mean over label tokens, as transformers computes it.
//
// --step KEY=V,... applies one optimizer update after the backward pass with the trainer's own code
// (train/adamw.h): global-norm gradient clipping (AdamW::clip_grad_norm; `clip`, 0 = off), then
// AdamW::step(lr) over every parameter with the trainer's default no-decay rule (names containing bias / norm
// / embed get no weight decay). Keys: lr, weight_decay, clip, beta1, beta2, eps, impl (auto | single |
// foreach | fused); defaults are train.json's optim.* defaults, except lr (1e-3). --out then also holds
// `grad_norm` (before clipping), and --grads still writes the unclipped gradients. --save-params FILE writes
// every parameter (after the update, with --step) under its HF name. It exists so that one update can be
// compared with torch.optim.AdamW (tests/peers/check_optimizer_step.py).
//
// The llama_features family (a LlamaForCausalLM directory + prospect_projector.safetensors) reads frame
// features instead of pixels: `features` [n, K, D] (fp32), whose projector outputs replace the <image>
// placeholders in order; image_hidden_states is then the projector output. --feature-dim, --frame-tokens and
// --image-token-id supply (or override) what a plain HF Llama directory's config.json lacks. --save-model DIR
// writes the model (after the --step update) with save_pretrained (--save-shard-bytes to shard it), so a
// Prospect-saved directory can be loaded by transformers (tests/peers/check_llama_parity.py). Not here:
// generation, schedules, accumulation.
#include <torch/cuda.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "command.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "core/torch_threads.h"
#include "model/checkpoint.h"
#include "model/loss.h"
#include "model/tensor_io.h"
#include "train/adamw.h"

namespace {

// --step lr=..,weight_decay=..,clip=..,beta1=..,beta2=..,eps=..,impl=..
struct StepOptions {
  bool enabled = false;
  double lr = 1e-3;
  double clip = 1.0;  // train.json's optim.grad_clip default
  prospect::train::AdamWOptions adamw;
  std::string impl = "auto";
};

StepOptions parse_step(const std::string& spec) {
  StepOptions s;
  s.enabled = true;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos) prospect::fail("--step: expected KEY=VALUE, got '" + item + "'");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "impl") {
      prospect::train::parse_adamw_impl(value);  // validates
      s.impl = value;
      continue;
    }
    double v = 0;
    try {
      size_t used = 0;
      v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::exception&) {
      prospect::fail("--step: " + key + " needs a number, got '" + value + "'");
    }
    if (key == "lr")
      s.lr = v;
    else if (key == "weight_decay")
      s.adamw.weight_decay = v;
    else if (key == "clip")
      s.clip = v;
    else if (key == "beta1")
      s.adamw.beta1 = v;
    else if (key == "beta2")
      s.adamw.beta2 = v;
    else if (key == "eps")
      s.adamw.eps = v;
    else
      prospect::fail("--step: unknown key '" + key + "' (lr, weight_decay, clip, beta1, beta2, eps, impl)");
  }
  s.adamw.impl = prospect::train::parse_adamw_impl(s.impl);
  return s;
}

struct ForwardOptions {
  std::string model;
  std::string inputs;
  std::string out;
  bool grads = false;
  bool heads = false;
  int threads = 0;
  std::string attention = "eager";
  std::string device = "cpu";
  std::string step;         // --step KEY=V,... (empty: no update)
  std::string save_params;  // --save-params FILE
  std::string save_model;   // --save-model DIR
  int64_t save_shard_bytes = 0;
  int64_t feature_dim = 0, frame_tokens = 0, image_token_id = -1;
};

int run_forward(const ForwardOptions& o) {
  using namespace prospect::model;
  prospect::set_compute_threads(o.threads);
  auto t0 = prospect::Clock::now();
  StepOptions step;
  if (!o.step.empty()) step = parse_step(o.step);
  ModelOptions mo;
  if (o.attention == "sdpa")
    mo.attention = AttentionImpl::Sdpa;
  else if (o.attention != "eager")
    prospect::fail("--attention must be eager or sdpa, got '" + o.attention + "'");
  if (o.device == "cuda") {
    if (!torch::cuda::is_available())
      prospect::fail("--device cuda: this build or machine has no CUDA device");
    mo.device = at::Device(at::kCUDA, 0);
    prospect::compat::set_tf32(false);  // fp32 parity: no TF32 matmuls
  } else if (o.device != "cpu") {
    prospect::fail("--device must be cpu or cuda, got '" + o.device + "'");
  }
  mo.feature_dim = o.feature_dim;
  mo.frame_tokens = o.frame_tokens;
  mo.image_token_id = o.image_token_id;
  auto model = load_pretrained(o.model, mo);
  auto in = load_tensors(o.inputs);
  auto need = [&](const char* name) -> at::Tensor {
    auto it = in.find(name);
    if (it == in.end()) {
      prospect::ErrorContext ctx;
      ctx.file = o.inputs;
      ctx.field = name;
      prospect::fail(ctx, "missing input tensor",
                     "expected input_ids [B,T] and optionally attention_mask, pixel_values (or features), "
                     "labels");
    }
    return it->second;
  };
  ForwardInput fi;
  fi.input_ids = need("input_ids").to(at::kLong);
  if (in.count("attention_mask")) fi.attention_mask = in.at("attention_mask");
  if (in.count("pixel_values")) fi.pixel_values = in.at("pixel_values").to(at::kFloat);
  if (in.count("features")) {
    if (!model->config.is_llama_features())
      prospect::fail(o.inputs + ": 'features' needs a llama_features model (" + o.model + " is SmolVLM)",
                     "give pixel_values to a SmolVLM model");
    fi.frame_features = in.at("features").to(at::kFloat);
  }
  bool has_labels = in.count("labels") > 0;
  const bool backward = o.grads || step.enabled;
  if (backward && !has_labels)
    prospect::fail(o.inputs + ": --grads and --step need a 'labels' tensor to define the loss");
  at::Tensor loss;
  ForwardOutput out;
  {
    // Without a backward pass nothing needs a graph.
    std::unique_ptr<at::NoGradGuard> no_grad;
    if (!backward) no_grad = std::make_unique<at::NoGradGuard>();
    out = model->forward(fi);
    if (has_labels) {
      LossInputs li;
      li.logits = out.logits;
      li.lm_labels = in.at("labels").to(at::kLong);
      LossTerms terms = compute_loss(li, {}, LossOptions{});  // only the LM term: w_lm · CE(lm_labels)
      if (terms.local.lm_tokens == 0)
        prospect::fail(o.inputs + ": 'labels' has no labelled token (all -100 after the shift)");
      loss = terms.total;
    }
  }
  auto host = [](const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat); };
  NamedTensors result = {{"logits", host(out.logits)}, {"last_hidden_state", host(out.last_hidden_state)}};
  if (out.image_hidden_states.defined() && out.image_hidden_states.size(0) > 0)
    result.emplace_back("image_hidden_states", host(out.image_hidden_states));
  if (loss.defined()) result.emplace_back("loss", host(loss).reshape({1}));
  if (o.heads) {
    // Every position, not only decision positions: the caller picks the ones it needs.
    at::NoGradGuard no_grad;
    auto heads = load_heads(o.model, mo.device);
    const at::Tensor& h = out.last_hidden_state;
    HeadLogits hl = heads->forward(h.detach().reshape({-1, h.size(-1)}));
    result.emplace_back("speak_logits", host(hl.speak).reshape({h.size(0), h.size(1)}));
    result.emplace_back("dst_logits", host(hl.dst).reshape({h.size(0), h.size(1)}));
  }
  int64_t with_grad = 0;
  if (backward) {
    loss.backward();
    if (o.grads) {
      for (auto& p : model->hf_parameters()) {
        if (!p.second.grad().defined()) continue;
        // A copy: clipping (--step) scales the gradients in place, and cpu() of a CPU tensor is no copy.
        result.emplace_back(p.first,
                            p.second.grad().detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true));
        ++with_grad;
      }
    }
  }
  if (step.enabled) {
    // The trainer's update (Trainer::run): clip the global gradient norm, then one AdamW step.
    prospect::train::AdamW opt(model->hf_parameters(), step.adamw);
    const double norm = opt.clip_grad_norm(step.clip);
    opt.step(step.lr);
    result.emplace_back("grad_norm", at::full({1}, norm, at::kFloat));
    std::cout << "step: grad norm " << norm
              << (step.clip > 0 && norm > step.clip ? " clipped to " : " (clip ") << step.clip
              << (step.clip > 0 && norm > step.clip ? "" : ")") << ", AdamW "
              << prospect::train::adamw_impl_name(opt.impl()) << " lr " << step.lr << " betas "
              << step.adamw.beta1 << "/" << step.adamw.beta2 << " eps " << step.adamw.eps << " weight decay "
              << step.adamw.weight_decay << " on " << opt.decay_names().size() << " tensors ("
              << opt.no_decay_names().size() << " without)\n";
  }
  save_tensors(o.out, result, {{"format", "pt"}});
  if (!o.save_params.empty()) {
    NamedTensors params;
    for (auto& p : model->hf_parameters()) params.emplace_back(p.first, host(p.second));
    save_tensors(o.save_params, params, {{"format", "pt"}});
    std::cout << "parameters: " << params.size() << " tensors -> " << o.save_params << "\n";
  }
  if (!o.save_model.empty()) {
    SaveOptions so;
    if (o.save_shard_bytes > 0) so.max_shard_bytes = o.save_shard_bytes;
    save_pretrained(*model, o.save_model, so);
    std::cout << "model: " << prospect::model::model_family_name(model->family()) << " -> " << o.save_model
              << "\n";
  }
  double secs = prospect::seconds_since(t0);
  std::cout << "forward: " << fi.input_ids.size(0) << "x" << fi.input_ids.size(1) << " tokens, "
            << (out.image_hidden_states.defined() ? out.image_hidden_states.size(0) : 0) << " images";
  if (loss.defined()) std::cout << ", loss " << loss.item<double>();
  if (o.grads) std::cout << ", " << with_grad << " gradients";
  if (o.heads) std::cout << ", heads";
  std::cout << " -> " << o.out << " (" << secs << " s)\n";
  return 0;
}

prospect::tools::Command reg(
    "forward", "Run the model once (fp32) on a safetensors batch and write its outputs (and gradients)",
    [](CLI::App& sub) {
      auto o = std::make_shared<ForwardOptions>();
      o->threads = prospect::tools::default_threads();
      sub.add_option("--model", o->model, "Model directory (config.json + model.safetensors or shards)")
          ->required();
      sub.add_option(
             "--inputs", o->inputs,
             "safetensors with input_ids [B,T], optional attention_mask, pixel_values [B,N,3,H,W] (or "
             "features [n,K,D] for a llama_features model), labels")
          ->required();
      sub.add_option("--out", o->out,
                     "Output safetensors: logits, last_hidden_state, image_hidden_states, loss (+ gradients)")
          ->required();
      sub.add_flag("--grads", o->grads,
                   "Also write the gradient of the loss for every parameter, under its HF name");
      sub.add_flag(
          "--heads", o->heads,
          "Also apply the decision heads in the model directory (prospect_heads.safetensors) to every "
          "position's final-norm hidden state: speak_logits and dst_logits [B,T] (fp32 logits; sigmoid "
          "gives the probability)");
      sub.add_option("--threads", o->threads, "Compute threads (default: PROSPECT_THREADS or all cores)");
      sub.add_option("--attention", o->attention,
                     "Attention implementation: eager (reference parity) or sdpa");
      sub.add_option("--device", o->device, "cpu or cuda (TF32 off)")->capture_default_str();
      sub.add_option(
          "--step", o->step,
          "After the backward pass, apply one training update with the trainer's code: global-norm "
          "clipping, then AdamW (no weight decay on names with bias/norm/embed). KEY=V,... of lr (1e-3), "
          "weight_decay (0), clip (1, 0 = off), beta1 (0.9), beta2 (0.999), eps (1e-8), impl (auto | "
          "single | foreach | fused). Adds grad_norm (before clipping) to --out; needs labels");
      sub.add_option(
          "--save-params", o->save_params,
          "Write every parameter under its HF name (after the --step update) to this safetensors file");
      sub.add_option("--save-model", o->save_model,
                     "Save the model (after the --step update) into this directory with save_pretrained");
      sub.add_option("--save-shard-bytes", o->save_shard_bytes,
                     "With --save-model: shard the weights above this many bytes (0: the default 5 GiB)");
      sub.add_option("--feature-dim", o->feature_dim,
                     "llama_features: frame-feature width D (0: config.json's prospect.feature_dim)");
      sub.add_option("--frame-tokens", o->frame_tokens,
                     "llama_features: tokens per frame K (0: config.json's prospect.frame_tokens)");
      sub.add_option("--image-token-id", o->image_token_id,
                     "llama_features: the placeholder token id (-1: config.json's prospect.image_token_id)");
      return [o]() { return run_forward(*o); };
    });

}  // namespace
