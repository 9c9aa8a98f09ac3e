// The frame-feature projector (see projector.h).
#include "model/projector.h"

namespace prospect::model {

Projector::Projector(int64_t feature_dim_, int64_t hidden_, const at::TensorOptions& opts)
    : feature_dim(feature_dim_), hidden(hidden_) {
  linear_1 = register_module("linear_1", std::make_shared<Linear>(feature_dim, hidden, true, opts));
  linear_2 = register_module("linear_2", std::make_shared<Linear>(hidden, hidden, true, opts));
}

at::Tensor Projector::forward(const at::Tensor& features) {
  return linear_2->forward(at::gelu(linear_1->forward(features)));  // approximate = "none": erf
}

}  // namespace prospect::model
