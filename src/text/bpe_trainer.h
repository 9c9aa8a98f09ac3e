// Training a byte-level BPE tokenizer on a corpus, written as a Hugging Face `tokenizer.json` in the shape of
// SmolVLM2's (Digits(individual) + ByteLevel pre-tokenizer, ByteLevel decoder, BPE model with pair merges,
// special tokens as added tokens), so both our Tokenizer and HF `tokenizers` read it. Used by `prospect
// synth` to give the demo a vocabulary fitted to its text. Not a general trainer: no normalizers, no
// dropout, no unk token, no continuing-subword prefixes.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace prospect::text {

struct BpeTrainOptions {
  int vocab_size = 1000;  // target size including the byte alphabet and every special token
  int min_frequency = 2;  // a pair seen fewer times is never merged
  // Special tokens at ids 0.. (in the vocabulary and added tokens), as SmolLM2 has <|endoftext|> etc.
  std::vector<std::string> leading_special = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  // Added tokens after the learned vocabulary, as SmolVLM2 adds its image and utterance tokens.
  std::vector<std::string> trailing_special = {"<global-img>", "<fake_token_around_image>", "<image>",
                                               "<end_of_utterance>"};
};

// Learns merges from `texts` (each split by the pre-tokenizer; special-token strings inside a text are
// cut out first and never learned) and returns the tokenizer.json document. Deterministic: ties between
// equally frequent pairs go to the pair of smaller ids. Throws prospect::Error when vocab_size cannot even
// hold the alphabet and the special tokens.
nlohmann::ordered_json train_bpe_tokenizer(const std::vector<std::string>& texts, const BpeTrainOptions& opt);

}  // namespace prospect::text
