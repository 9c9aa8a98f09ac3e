// Byte-level BPE tokenizer read from a Hugging Face `tokenizer.json` (the SmolLM2 / SmolVLM2 and Llama 3
// families). Encodes exactly as HF `tokenizers` does with add_special_tokens=False (or True, on request):
// added tokens are matched first and never split, the rest goes through Digits or a known Split regex +
// ByteLevel and BPE merges (ignore_merges honoured). Does not implement normalizers, other pre-tokenizers,
// unknown Split regexes or other models (WordPiece, Unigram): loading a file that needs them is an error
// naming what is unsupported.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prospect::text {

// [start, end) in Unicode code points of the input, as HF reports offsets.
using Offset = std::pair<int32_t, int32_t>;

class Tokenizer {
 public:
  // Loads a tokenizer.json. Throws prospect::Error naming the file and the JSON path on anything malformed.
  static Tokenizer load(const std::string& path);
  // Same, from the JSON text; `origin` names it in errors.
  static Tokenizer from_json(const std::string& json_text, const std::string& origin);

  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Token ids of `text`; with `offsets`, one [start, end) code-point range per id. Throws prospect::Error
  // naming the byte offset when text is not valid UTF-8. Safe to call from several threads at once.
  // This is HF's encode(text, add_special_tokens=False): no BOS or other template tokens.
  std::vector<int32_t> encode(std::string_view text, std::vector<Offset>* offsets = nullptr) const;
  // Same; with add_special_tokens, the post-processor's TemplateProcessing tokens (e.g. Llama 3's
  // <|begin_of_text|>) around the ids, with offsets (0, 0): HF's encode(text, add_special_tokens=True).
  // Without a TemplateProcessing it equals encode(text, offsets).
  std::vector<int32_t> encode(std::string_view text, std::vector<Offset>* offsets,
                              bool add_special_tokens) const;
  // The ids TemplateProcessing's single template puts before / after the text (empty without one).
  const std::vector<int32_t>& template_prefix() const;
  const std::vector<int32_t>& template_suffix() const;
  // Text of the ids (ByteLevel decode); invalid UTF-8 sequences become U+FFFD and unknown ids are
  // dropped, as HF does.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // Id of a token string (vocabulary or added token), or -1.
  int32_t token_to_id(std::string_view token) const;
  // Token string of an id, or "" when out of range.
  std::string id_to_token(int32_t id) const;
  // Number of ids (vocabulary plus added tokens): one more than the largest id.
  int32_t vocab_size() const;
  // The raw bytes id decodes to (possibly part of a UTF-8 character); empty for an unknown id.
  std::string_view id_to_bytes(int32_t id) const;
  // True when id is an added token marked special (what decode's skip_special_tokens drops).
  bool is_special(int32_t id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Streaming decode: feed ids one at a time, get back the text that is complete so far. Bytes of a UTF-8
// character split across tokens are held back until the character is whole.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
  // Returns the newly completed text (possibly empty).
  std::string push(int32_t id);
  // Whatever is held back, with incomplete sequences as U+FFFD.
  std::string flush();

 private:
  const Tokenizer* tok_;
  std::string pending_;
};

}  // namespace prospect::text
