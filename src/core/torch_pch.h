// The one precompiled header of the libtorch parts. Only torch goes here: project headers change often.
#pragma once
#include <torch/torch.h>
