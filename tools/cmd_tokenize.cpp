// `prospect tokenize`: reads JSON lines {"text": "..."} on stdin and writes one JSON line per input, in
// order: {"ids": [...]} and, with --offsets, "offsets": [[start, end], ...] in code points of the text, and
// with --decode, "decoded": the text of the ids. Encodes as HF does with add_special_tokens=False, or True
// with --add-special-tokens (the post-processor's template tokens, e.g. Llama 3's <|begin_of_text|>).
// Does not batch, pad or truncate.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "core/error.h"
#include "text/tokenizer.h"

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  bool offsets = false;
  bool add_special_tokens = false;
  bool decode = false;
};

[[noreturn]] void bad_line(long long line, const std::string& message, const std::string& hint = "") {
  prospect::ErrorContext ctx;
  ctx.file = "<stdin>";
  prospect::fail(ctx, "line " + std::to_string(line) + ": " + message, hint);
}

prospect::tools::Command reg(
    "tokenize",
    "Encode JSON lines {\"text\": ...} from stdin with a tokenizer.json; one {\"ids\": [...]} line out each",
    [](CLI::App& sub) {
      auto opt = std::make_shared<TokenizeOptions>();
      sub.add_option("--tokenizer", opt->tokenizer, "Hugging Face tokenizer.json to encode with")
          ->required()
          ->check(CLI::ExistingFile);
      sub.add_flag("--offsets", opt->offsets,
                   "Also write \"offsets\": [[start, end], ...], code-point ranges of the text per token");
      sub.add_flag("--add-special-tokens", opt->add_special_tokens,
                   "Add the post-processor's template tokens (e.g. <|begin_of_text|>), as HF's "
                   "add_special_tokens=True");
      sub.add_flag("--decode", opt->decode, "Also write \"decoded\": the text the ids decode to");
      return [opt]() -> int {
        prospect::text::Tokenizer tok = prospect::text::Tokenizer::load(opt->tokenizer);
        std::string line;
        std::string out;
        std::vector<prospect::text::Offset> offsets;
        long long line_no = 0;
        while (std::getline(std::cin, line)) {
          ++line_no;
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (line.find_first_not_of(" \t") == std::string::npos) {
            bad_line(line_no, "empty line", "every line must be a JSON object {\"text\": \"...\"}");
          }
          nlohmann::json j;
          try {
            j = nlohmann::json::parse(line);
          } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (1e999)
            bad_line(line_no, std::string("not valid JSON: ") + e.what(),
                     "every line must be a JSON object {\"text\": \"...\"}");
          }
          if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
            bad_line(line_no,
                     "expected an object with a string field \"text\", got " + j.dump().substr(0, 80));
          }
          std::vector<int32_t> ids;
          try {
            ids = tok.encode(j["text"].get_ref<const std::string&>(), opt->offsets ? &offsets : nullptr,
                             opt->add_special_tokens);
          } catch (const prospect::Error& e) {
            bad_line(line_no, e.what());
          }
          out.assign("{\"ids\": [");
          for (size_t i = 0; i < ids.size(); ++i) {
            if (i > 0) out += ", ";
            out += std::to_string(ids[i]);
          }
          out += "]";
          if (opt->offsets) {
            out += ", \"offsets\": [";
            for (size_t i = 0; i < offsets.size(); ++i) {
              if (i > 0) out += ", ";
              out += "[" + std::to_string(offsets[i].first) + ", " + std::to_string(offsets[i].second) + "]";
            }
            out += "]";
          }
          if (opt->decode) out += ", \"decoded\": " + nlohmann::json(tok.decode(ids)).dump();
          out += "}\n";
          // One line out per line in, flushed, so the command can serve another process line by line.
          std::cout << out << std::flush;
        }
        return 0;
      };
    });

}  // namespace
