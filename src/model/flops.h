// The analytic model-FLOP count of a SmolVLM2 shape: matmul FLOPs of one forward pass by part, and of a
// training step, the numerator of MFU (`prospect bench`, src/bench/benchmark.h). Torch-free: only the config.
// Not here: measuring anything, FLOPs of norms, softmax, activations or the embedding lookup (not counted).
#pragma once
#include <cstdint>

#include "model/config.h"

namespace prospect::model {

// Matmul FLOPs (2 per multiply-add) of one forward pass, by part. Attention scores and their product with the
// values count the full T x S grid (not halved for causality), as the usual 6N + 12·L·T·H convention does;
// norms, softmax, activations and the embedding lookup are not counted.
struct ForwardFlops {
  double vision = 0;     // patch embedding + encoder layers, all images
  double connector = 0;  // pixel-shuffle projection, all images (LlamaFeatures: the projector, vision 0)
  double text = 0;       // decoder layers over the whole sequence
  double lm_head = 0;    // at the positions whose logits are computed
  double total() const { return vision + connector + text + lm_head; }
};

// One forward pass of `c` over `seq_len` tokens with `images` full-size images, computing logits at
// `logit_positions` positions (training: the labelled ones).
ForwardFlops forward_flops(const SmolVLMConfig& c, int64_t seq_len, int64_t images, int64_t logit_positions);
// A training step's model FLOPs: backward = 2 x forward for every trained part; with the vision tower frozen
// it runs forward only (1x) and the connector needs no input gradient (2x). LlamaFeatures: pass false (the
// projector's input is data: 2x).
double train_step_flops(const ForwardFlops& f, bool vision_trainable);

}  // namespace prospect::model
