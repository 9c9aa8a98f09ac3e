// The model of both families: assembly, image (frame-feature) merge and forward pass (see smolvlm.h).
#include "model/smolvlm.h"

#include "core/device_copy.h"
#include "core/error.h"

namespace prospect::model {

SmolVLMModel::SmolVLMModel(const SmolVLMConfig& c, const at::TensorOptions& opts) {
  vision_model = register_module("vision_model", std::make_shared<VisionTransformer>(c.vision, opts));
  connector = register_module("connector", std::make_shared<Connector>(c, opts));
  text_model = register_module("text_model", std::make_shared<TextModel>(c.text, opts));
}

SmolVLM::SmolVLM(const SmolVLMConfig& c, const ModelOptions& o) : config(c), options(o) {
  auto opts = at::TensorOptions().dtype(o.dtype).device(o.device);
  const bool llama = c.is_llama_features();
  if (llama) {
    if (c.image_token_id < 0 || c.image_token_id >= c.text.vocab_size)
      fail("llama_features model: the <image> placeholder id " + std::to_string(c.image_token_id) +
               " is not a token of the vocabulary [0, " + std::to_string(c.text.vocab_size) + ")",
           "set prospect.image_token_id in config.json, or ModelOptions::image_token_id for a plain Llama "
           "checkpoint");
    if (o.frame_pool > 0)
      fail("llama_features model: frame_pool " + std::to_string(o.frame_pool) +
               " does not apply (each frame is already K = " + std::to_string(c.frame_tokens) +
               " feature tokens)",
           "set frame_pool to 0");
    // LlamaForCausalLM's tree: the decoder is `model`, so its names are model.embed_tokens.weight, ...
    text_ = register_module("model", std::make_shared<TextModel>(c.text, opts));
  } else {
    model = register_module("model", std::make_shared<SmolVLMModel>(c, opts));
    text_ = model->text_model;
  }
  if (c.tie_word_embeddings) {
    // Tied: lm_head reads the embedding matrix and is not registered, so the weight is listed (and saved)
    // once, as the embedding. Module::to() moves it in place, so the alias survives.
    lm_head = std::make_shared<Linear>(0, 0, false, opts);
    lm_head->weight = text_->embed_tokens->weight;
  } else {
    lm_head = register_module("lm_head",
                              std::make_shared<Linear>(c.text.hidden_size, c.text.vocab_size, false, opts));
  }
  if (llama)
    projector =
        register_module("projector", std::make_shared<Projector>(c.feature_dim, c.text.hidden_size, opts));
  if (o.frame_pool > 0)
    pool_token_grid(at::zeros({1, c.tokens_per_frame(), 1}), o.frame_pool);  // validates k
}

int64_t SmolVLM::tokens_per_image() const {
  if (config.is_llama_features()) return config.frame_tokens;
  return options.frame_pool > 0 ? options.frame_pool * options.frame_pool : config.tokens_per_frame();
}

at::Tensor SmolVLM::encode_images(const at::Tensor& pixel_values, bool check_padding) {
  if (config.is_llama_features()) {
    at::Tensor f = pixel_values;
    if (f.dim() == 4) f = f.reshape({f.size(0) * f.size(1), f.size(2), f.size(3)});
    if (f.dim() != 3 || f.size(1) != config.frame_tokens || f.size(2) != config.feature_dim)
      fail("frame features must be [n, K, D] = [n, " + std::to_string(config.frame_tokens) + ", " +
               std::to_string(config.feature_dim) + "] (or [B, N, K, D]), got " +
               c10::str(pixel_values.sizes()),
           "the feature files and the model's prospect.frame_tokens / prospect.feature_dim disagree");
    if (!at::isFloatingType(f.scalar_type()))
      fail("frame features must be floating point, got " + std::string(c10::toString(f.scalar_type())));
    f = to_device_async(f, lm_head->weight.device(), lm_head->weight.scalar_type());
    return projector->forward(f);
  }
  at::Tensor px = pixel_values;
  if (px.dim() == 5) px = px.reshape({px.size(0) * px.size(1), px.size(2), px.size(3), px.size(4)});
  if (px.dim() != 4)
    fail("pixel_values must be [B, N, C, H, W] or [N, C, H, W], got " + c10::str(pixel_values.sizes()));
  // Padding images are exactly zero everywhere (transformers drops them the same way). Tested where the
  // pixels are (on the CPU for frames coming from the host: no device synchronisation).
  at::Tensor real;
  int64_t n_real = px.size(0);
  if (check_padding) {
    real = px.ne(0).flatten(1).any(1);
    n_real = real.sum().item<int64_t>();
  }
  if (n_real == 0)
    return at::empty({0, tokens_per_image(), config.text.hidden_size}, lm_head->weight.options());
  if (n_real != px.size(0)) px = px.index({real});
  px = to_device_async(px, lm_head->weight.device(), lm_head->weight.scalar_type());
  at::Tensor vision_hidden;
  if (vision_trainable_) {
    vision_hidden = model->vision_model->forward(px, options.attention);
  } else {
    at::NoGradGuard no_grad;
    vision_hidden = model->vision_model->forward(px, options.attention);
  }
  return model->connector->forward(vision_hidden, options.frame_pool);
}

at::Tensor SmolVLM::embed(const at::Tensor& input_ids, const at::Tensor& image_features) {
  // Range and <image> count on the host in one read (ids on a GPU cost one synchronisation, CPU ids none).
  int64_t n_tokens = 0;
  if (input_ids.numel() > 0) {
    at::Tensor stats = at::stack({input_ids.min().to(at::kLong), input_ids.max().to(at::kLong),
                                  input_ids.eq(config.image_token_id).sum().to(at::kLong)})
                           .to(at::kCPU, at::kLong);
    const int64_t* st = stats.data_ptr<int64_t>();
    int64_t lo = st[0], hi = st[1];
    n_tokens = st[2];
    if (lo < 0 || hi >= config.text.vocab_size)
      fail("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary [0, " +
               std::to_string(config.text.vocab_size) + ")",
           "was the sequence tokenized with this model's tokenizer?");
  }
  // <image> positions, found where the ids are (CPU ids: no synchronisation), then sent with them.
  at::Tensor where =
      n_tokens > 0 ? input_ids.eq(config.image_token_id).nonzero() : at::Tensor();  // [n_tokens, 2]
  const at::Device dev = lm_head->weight.device();
  at::Tensor ids = to_device_async(input_ids, dev);
  at::Tensor emb = text_->embed_tokens->forward(ids);
  int64_t n_feat = image_features.defined() ? image_features.size(0) * image_features.size(1) : 0;
  if (n_tokens != n_feat) {
    std::string k = image_features.defined() ? std::to_string(image_features.size(1)) : "K";
    std::string n = image_features.defined() ? std::to_string(image_features.size(0)) : "0";
    if (config.is_llama_features())
      fail("the input has " + std::to_string(n_tokens) + " <image> placeholder tokens (id " +
               std::to_string(config.image_token_id) + ") but " + n + " frames x " + k +
               " tokens = " + std::to_string(n_feat) + " projected frame features",
           "each frame needs exactly " + std::to_string(tokens_per_image()) + " placeholder tokens");
    fail("the input has " + std::to_string(n_tokens) + " <image> tokens (id " +
             std::to_string(config.image_token_id) + ") but " + n + " real images x " + k +
             " tokens = " + std::to_string(n_feat) + " image features",
         "each image needs exactly " + std::to_string(tokens_per_image()) +
             " <image> tokens, and padding images must be all zeros");
  }
  if (n_tokens == 0) return emb;
  // nonzero() lists positions row-major, which is transformers' order (sample 0's images first).
  where = to_device_async(where, dev);
  at::Tensor feats = image_features.reshape({n_feat, image_features.size(2)}).to(emb.scalar_type());
  return emb.index_put({where.select(1, 0), where.select(1, 1)}, feats);
}

ForwardOutput SmolVLM::forward(const ForwardInput& in) {
  if (!in.input_ids.defined() || in.input_ids.dim() != 2)
    fail("input_ids must be [B, T] int64" +
         (in.input_ids.defined() ? ", got " + c10::str(in.input_ids.sizes()) : ""));
  ForwardOutput out;
  if (in.image_features.defined()) {
    out.image_hidden_states = in.image_features;
  } else if (config.is_llama_features() && in.frame_features.defined()) {
    out.image_hidden_states = encode_images(in.frame_features, false);
  } else if (in.pixel_values.defined()) {
    out.image_hidden_states = encode_images(in.pixel_values, in.check_padding);
  }
  at::Tensor emb = embed(in.input_ids, out.image_hidden_states);
  out.last_hidden_state =
      text_->forward(emb, in.attention_mask, in.position_ids, in.cache, options.attention);
  if (in.logits) out.logits = lm_logits(out.last_hidden_state);
  return out;
}

at::Tensor SmolVLM::lm_logits(const at::Tensor& hidden) { return lm_head->forward(hidden); }

void SmolVLM::set_vision_trainable(bool trainable) {
  vision_trainable_ = trainable;
  if (!model) return;  // LlamaFeatures: no vision tower; the projector keeps its own requires_grad
  for (auto& p : model->vision_model->parameters()) p.set_requires_grad(trainable);
}

void SmolVLM::init_weights(uint64_t seed, double std) { init_parameters(*this, std, seed); }

std::vector<std::pair<std::string, at::Tensor>> SmolVLM::hf_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  return out;
}

int64_t SmolVLM::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

at::Tensor gather_positions(const at::Tensor& hidden, const at::Tensor& positions) {
  if (positions.dim() != 2 || positions.size(1) != 2)
    fail("decision positions must be [N, 2] (batch, t), got " + c10::str(positions.sizes()));
  at::Tensor p = positions.to(hidden.device()).to(at::kLong);
  return hidden.index({p.select(1, 0), p.select(1, 1)});
}

}  // namespace prospect::model
