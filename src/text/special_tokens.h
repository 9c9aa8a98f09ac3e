// The SmolVLM2 chat template's special tokens, spelled once: the rendering (data/clip_renderer.cpp), the
// streaming loop and the exported tokenizer config all name them from here, and the end-of-utterance id is
// looked up in one place. Not here: checking that a vocabulary has them (ClipRenderer's constructor does),
// other models' templates.
#pragma once
#include <cstdint>

#include "text/tokenizer.h"

namespace prospect::text {

constexpr const char* kImStart = "<|im_start|>";
constexpr const char* kEndOfUtterance = "<end_of_utterance>";
constexpr const char* kFakeTokenAroundImage = "<fake_token_around_image>";
constexpr const char* kGlobalImg = "<global-img>";
constexpr const char* kImageToken = "<image>";

// The id of <end_of_utterance> in `tok`, or -1 when the vocabulary lacks it.
inline int32_t end_of_utterance_id(const Tokenizer& tok) { return tok.token_to_id(kEndOfUtterance); }

}  // namespace prospect::text
