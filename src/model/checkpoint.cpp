// HF-layout model directories and Prospect's heads beside them (see checkpoint.h).
#include "model/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/strformat.h"
#include "model/tensor_io.h"

namespace prospect::model {

namespace fs = std::filesystem;
namespace st = prospect::safetensors;
using nlohmann::json;

namespace {

// A CPU tensor reading the mapped bytes in place when they are aligned for the dtype, else a copy.
at::Tensor mapped_tensor(const st::TensorView& v) {
  size_t align = st::dtype_size(v.info->dtype);
  if (reinterpret_cast<uintptr_t>(v.data) % align == 0 && v.info->nbytes() > 0) {
    return at::from_blob(const_cast<uint8_t*>(v.data), v.info->shape,
                         at::TensorOptions().dtype(to_scalar_type(v.info->dtype)));
  }
  return to_tensor(v);
}

void write_text_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) fail(path + ": cannot create the file");
    out << text;
    out.close();  // close before checking: a full disk may only show when the last buffer is written
    if (!out) fail(path + ": write failed (disk full or no permission?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail(path + ": cannot move " + tmp + " into place: " + ec.message());
}

bool is_projector_name(const std::string& name) { return name.rfind("projector.", 0) == 0; }

}  // namespace

void load_weights(SmolVLM& m, const st::Checkpoint& ck, bool allow_unexpected) {
  at::NoGradGuard no_grad;
  std::set<std::string> wanted;
  for (auto& p : m.named_parameters(true)) {
    const std::string& name = p.key();
    if (is_projector_name(name)) continue;  // LlamaFeatures: prospect_projector.safetensors
    wanted.insert(name);
    if (!ck.contains(name)) {
      ErrorContext ctx;
      ctx.file = ck.path();
      fail(ctx, "the checkpoint lacks parameter '" + name + "'",
           m.config.is_llama_features() ? "is this a LlamaForCausalLM checkpoint?"
                                        : "is this a SmolVLM / Idefics3 checkpoint?");
    }
    st::TensorView v = ck.get(name);
    at::Tensor dst = p.value();
    if (v.info->shape != dst.sizes().vec()) {
      ErrorContext ctx;
      ctx.file = ck.file_of(name);
      fail(ctx,
           "tensor '" + name + "' has shape " + c10::str(at::IntArrayRef(v.info->shape)) +
               " but config.json implies " + c10::str(dst.sizes()),
           "config.json and the weights disagree");
    }
    dst.copy_(mapped_tensor(v));
  }
  if (!allow_unexpected) {
    std::vector<std::string> extra;
    for (const auto& n : ck.names())
      if (!wanted.count(n)) extra.push_back(n);
    // A tied checkpoint may still carry lm_head.weight; it is the embedding and is not needed.
    if (m.config.tie_word_embeddings) {
      for (size_t i = 0; i < extra.size(); ++i)
        if (extra[i] == "lm_head.weight") extra.erase(extra.begin() + static_cast<long>(i--));
    }
    if (!extra.empty()) {
      std::string list;
      for (size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
      ErrorContext ctx;
      ctx.file = ck.path();
      fail(ctx,
           std::to_string(extra.size()) + " tensors the model does not have: " + list +
               (extra.size() > 5 ? ", ..." : ""),
           "config.json and the weights disagree");
    }
  }
}

bool has_projector(const std::string& dir) { return fs::exists(fs::path(dir) / kProjectorFile); }

void load_projector(SmolVLM& m, const std::string& dir) {
  const std::string path = (fs::path(dir) / kProjectorFile).string();
  if (!m.projector)
    fail(path + ": this model (" + std::string(model_family_name(m.family())) + ") has no projector");
  auto f = st::File::open(path);
  at::NoGradGuard no_grad;
  std::set<std::string> wanted;
  for (auto& p : m.projector->named_parameters(true)) {
    const std::string name = "projector." + p.key();
    wanted.insert(name);
    ErrorContext ctx;
    ctx.file = path;
    ctx.field = name;
    if (!f->contains(name))
      fail(ctx, "the projector tensor is missing", "expected projector.linear_{1,2}.{weight,bias}");
    st::TensorView v = f->get(name);
    if (v.info->shape != p.value().sizes().vec())
      fail(ctx,
           "shape " + c10::str(at::IntArrayRef(v.info->shape)) + " but config.json implies " +
               c10::str(p.value().sizes()),
           "prospect.feature_dim or hidden_size disagree with the projector file");
    p.value().copy_(to_tensor(v));
  }
  for (const auto& n : f->names())
    if (!wanted.count(n)) {
      ErrorContext ctx;
      ctx.file = path;
      ctx.field = n;
      fail(ctx, "a tensor the projector does not have", "expected projector.linear_{1,2}.{weight,bias}");
    }
}

void attach_projector(SmolVLM& m, uint64_t seed, double std) {
  if (!m.projector) fail("attach_projector: this model has no projector (family smolvlm)");
  init_parameters(*m.projector, std, seed);
}

std::shared_ptr<SmolVLM> load_pretrained(const std::string& dir, ModelOptions options) {
  SmolVLMConfig cfg = SmolVLMConfig::load(dir);
  if (cfg.is_llama_features()) {
    if (options.feature_dim > 0) cfg.feature_dim = options.feature_dim;
    if (options.frame_tokens > 0) cfg.frame_tokens = options.frame_tokens;
    if (options.image_token_id >= 0) cfg.image_token_id = options.image_token_id;
    cfg.validate((fs::path(dir) / "config.json").string());
  }
  if (options.frame_pool == 0 && fs::exists(fs::path(dir) / kProspectConfigFile))
    options.frame_pool = ProspectConfig::load(dir).frame_pool;
  // Build on the CPU (parameters untouched until loaded), fill from the mapping, then move.
  at::Device device = options.device;
  options.device = at::kCPU;
  auto m = std::make_shared<SmolVLM>(cfg, options);
  st::Checkpoint ck = st::Checkpoint::open(dir);
  load_weights(*m, ck);
  if (m->projector) {
    if (has_projector(dir))
      load_projector(*m, dir);
    else
      attach_projector(*m, options.projector_seed);
  }
  if (device != at::Device(at::kCPU)) {
    m->to(device);
    m->options.device = device;
  }
  return m;
}

void save_pretrained(const SmolVLM& m, const std::string& dir, const SaveOptions& options) {
  fs::create_directories(dir);
  write_text_atomic((fs::path(dir) / "config.json").string(), m.config.to_json().dump(2) + "\n");
  NamedTensors all, projector;
  int64_t total = 0;
  for (const auto& p : m.named_parameters(true)) {
    at::Tensor t = p.value().detach();
    if (options.dtype != at::ScalarType::Undefined) t = t.to(options.dtype);
    if (is_projector_name(p.key())) {
      projector.emplace_back(p.key(), t);
      continue;
    }
    total += t.numel() * t.element_size();
    all.emplace_back(p.key(), t);
  }
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (m.projector) save_tensors((fs::path(dir) / kProjectorFile).string(), projector, meta);
  // Stale files from an earlier save with another layout would confuse loaders.
  for (const char* old : {"model.safetensors", "model.safetensors.index.json"})
    fs::remove(fs::path(dir) / old);
  if (total <= options.max_shard_bytes) {
    save_tensors((fs::path(dir) / "model.safetensors").string(), all, meta);
    return;
  }
  std::vector<NamedTensors> shards(1);
  int64_t in_shard = 0;
  for (auto& nt : all) {
    int64_t b = nt.second.numel() * nt.second.element_size();
    if (in_shard > 0 && in_shard + b > options.max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(nt);
    in_shard += b;
  }
  std::map<std::string, std::string> weight_map;
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string name = strformat("model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    save_tensors((fs::path(dir) / name).string(), shards[i], meta);
    for (auto& nt : shards[i]) weight_map[nt.first] = name;
  }
  st::write_index((fs::path(dir) / "model.safetensors.index.json").string(), weight_map,
                  {{"total_size", std::to_string(total)}});
}

json ProspectConfig::to_json() const {
  json j = raw.is_object() ? raw : json::object();
  j["head_type"] = head_type_name(head_type);
  j["hidden_size"] = hidden_size;
  j["frame_pool"] = frame_pool;
  j["heads"] = {"speak_head", "dst_head"};
  return j;
}

ProspectConfig ProspectConfig::load(const std::string& dir) {
  std::string path = (fs::path(dir) / kProspectConfigFile).string();
  std::ifstream in(path);
  if (!in) fail(path + ": cannot open (is this a Prospect model directory?)");
  ProspectConfig c;
  try {
    in >> c.raw;
  } catch (const json::exception& e) {
    fail(path + ": not valid JSON: " + e.what());
  }
  if (!c.raw.is_object()) fail(path + ": not a JSON object");
  try {
    if (c.raw.contains("head_type")) c.head_type = parse_head_type(c.raw["head_type"].get<std::string>());
    if (c.raw.contains("hidden_size")) c.hidden_size = c.raw["hidden_size"].get<int64_t>();
    if (c.raw.contains("frame_pool")) c.frame_pool = c.raw["frame_pool"].get<int64_t>();
  } catch (const json::exception& e) {
    fail(path + ": wrong type: " + e.what());
  }
  return c;
}

bool has_heads(const std::string& dir) { return fs::exists(fs::path(dir) / kHeadsFile); }

void save_heads(const DecisionHeads& heads, const std::string& dir, const ProspectConfig& cfg_in) {
  fs::create_directories(dir);
  ProspectConfig cfg = cfg_in;
  cfg.head_type = heads.type;
  cfg.hidden_size = heads.hidden;
  NamedTensors ts;
  for (const auto& p : heads.named_parameters(true)) ts.emplace_back(p.key(), p.value());
  save_tensors((fs::path(dir) / kHeadsFile).string(), ts, {{"format", "pt"}});
  write_text_atomic((fs::path(dir) / kProspectConfigFile).string(), cfg.to_json().dump(2) + "\n");
}

std::shared_ptr<DecisionHeads> load_heads(const std::string& dir, at::Device device) {
  ProspectConfig cfg = ProspectConfig::load(dir);
  std::string path = (fs::path(dir) / kHeadsFile).string();
  if (cfg.hidden_size <= 0) fail(path + ": prospect_config.json lacks hidden_size");
  auto heads = std::make_shared<DecisionHeads>(cfg.hidden_size, cfg.head_type);
  auto f = st::File::open(path);
  at::NoGradGuard no_grad;
  for (auto& p : heads->named_parameters(true)) {
    if (!f->contains(p.key()))
      fail(path + ": tensor '" + p.key() + "' is missing (head_type " + head_type_name(cfg.head_type) + ")");
    at::Tensor t = to_tensor(f->get(p.key()));
    if (t.sizes() != p.value().sizes())
      fail(path + ": tensor '" + p.key() + "' has shape " + c10::str(t.sizes()) + ", expected " +
           c10::str(p.value().sizes()));
    p.value().copy_(t);
  }
  heads->to(device);
  return heads;
}

}  // namespace prospect::model
