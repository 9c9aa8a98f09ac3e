// What a training run trains: the SmolVLM, its decision heads, LoRA adapters (train.mode = lora), gradient
// checkpointing and the AdamW over exactly the parameters train.mode makes trainable, on the run's device and
// dtype. Built once at the start (fresh, or from a checkpoint for resume). Not here: the loop, the loss of a
// window (train_step.h), checkpoint files (trainer_checkpoint.h).
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "model/heads.h"
#include "model/smolvlm.h"
#include "train/adamw.h"
#include "train/distributed.h"
#include "train/grad_checkpoint.h"
#include "train/lora.h"
#include "train/train_options.h"

namespace prospect::train {

struct TrainModel {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  std::shared_ptr<model::SmolVLM> model;
  std::shared_ptr<model::DecisionHeads> heads;
  std::unique_ptr<LoraSet> lora;                     // train.mode = lora only
  std::unique_ptr<GradCheckpointing> checkpointing;  // train.grad_checkpointing only
  std::unique_ptr<AdamW> opt;
};

// Loads the model from `weights_dir` onto `device` in `dtype`, the heads from `resume_dir` (else
// `weights_dir`, else fresh ones seeded by train.seed) and, for LoRA, the adapters from `resume_dir` when
// given; marks what train.mode trains and builds the optimizer over it. With `dist`, every rank takes rank
// 0's trainable weights. `summary` gets the "model: ..." line (parameter counts, mode). Throws
// prospect::Error for unreadable files.
TrainModel load_train_model(const TrainOptions& o, const std::string& weights_dir,
                            const std::string& resume_dir, at::Device device, at::ScalarType dtype,
                            Communicator* dist, std::string& summary);

}  // namespace prospect::train
