// The analytic FLOP count (see flops.h): per layer, the matmuls of the attention projections, the MLP and
// the attention grid, written out so each term can be checked against a count by hand (tests/bench).
#include "model/flops.h"

namespace prospect::model {

namespace {

// The decoder layers over the whole sequence.
double text_flops(const TextConfig& t, int64_t seq_len) {
  const double H = double(t.hidden_size), T = double(seq_len), It = double(t.intermediate_size);
  const double q = double(t.num_attention_heads * t.head_dim),
               kv = double(t.num_key_value_heads * t.head_dim);
  const double text_layer = 2 * T * H * q + 2 * 2 * T * H * kv + 2 * T * q * H  // q, k, v, o
                            + 2 * T * H * It * 3                                // gate, up, down
                            + 2 * T * T * q * 2;  // scores and values (full T x T)
  return double(t.num_hidden_layers) * text_layer;
}

}  // namespace

ForwardFlops forward_flops(const SmolVLMConfig& c, int64_t seq_len, int64_t images, int64_t logit_positions) {
  ForwardFlops f;
  if (c.is_llama_features()) {
    // No vision tower; the projector (Linear(D, H) -> GELU -> Linear(H, H)) counts as the connector.
    const double K = double(c.frame_tokens), D = double(c.feature_dim), H = double(c.text.hidden_size);
    f.connector = double(images) * 2 * K * (D * H + H * H);
    f.text = text_flops(c.text, seq_len);
    f.lm_head = 2 * double(logit_positions) * H * double(c.text.vocab_size);
    return f;
  }
  const VisionConfig& v = c.vision;
  const double P =
      double(v.image_size / v.patch_size) * double(v.image_size / v.patch_size);  // patches per image
  const double D = double(v.hidden_size), Iv = double(v.intermediate_size);
  const double patch_in = double(v.num_channels * v.patch_size * v.patch_size);
  const double vision_layer = 2 * P * D * D * 4     // q, k, v, out projections
                              + 2 * P * D * Iv * 2  // fc1, fc2
                              + 2 * P * P * D * 2;  // scores and probabilities x values
  f.vision = double(images) * (2 * P * patch_in * D + double(v.num_hidden_layers) * vision_layer);
  const double s2 = double(c.scale_factor * c.scale_factor);
  const double K = P / s2;
  const double H = double(c.text.hidden_size);
  f.connector = double(images) * 2 * K * (D * s2) * H;
  f.text = text_flops(c.text, seq_len);
  f.lm_head = 2 * double(logit_positions) * H * double(c.text.vocab_size);
  return f;
}

double train_step_flops(const ForwardFlops& f, bool vision_trainable) {
  return (vision_trainable ? 3 : 1) * f.vision + (vision_trainable ? 3 : 2) * f.connector +
         3 * (f.text + f.lm_head);
}

}  // namespace prospect::model
