// Tokenizer throughput on a realistic corpus: the texts of the real sample data (ProAssist prepared JSONL,
// the DST clip), the repository's markdown, and rendered-style strings dense with <image> added tokens.
// Prints load time, encode MB/s (cold and warm word cache, with and without offsets, 1 and 2 threads), the
// time of one ~4096-token sequence, decode MB/s and token_to_id ns per lookup. Not a test: it prints figures
// only.
//
// Usage: bench_tokenizer [tokenizer.json] [repeats]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/strformat.h"
#include "text/tokenizer.h"

namespace {

using prospect::Clock;
using prospect::seconds_since;
using prospect::text::Tokenizer;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Every string value in a JSON document, joined with newlines: the text a renderer would tokenize.
void collect_strings(const nlohmann::json& j, std::string& out) {
  if (j.is_string()) {
    out += j.get<std::string>();
    out += '\n';
  } else if (j.is_array() || j.is_object()) {
    for (const auto& v : j) collect_strings(v, out);
  }
}

std::vector<std::string> text_corpus(const std::string& shared) {
  std::vector<std::string> docs;
  std::ifstream jsonl(shared + "/data/prospect-sample/proassist_prepared_assembly101.jsonl");
  std::string line;
  while (std::getline(jsonl, line)) {
    std::string doc;
    collect_strings(nlohmann::json::parse(line), doc);
    docs.push_back(doc);
  }
  std::string clip_text = read_file(shared + "/data/prospect-sample/dst_clip_assembly101.json");
  if (!clip_text.empty()) {
    std::string doc;
    collect_strings(nlohmann::json::parse(clip_text), doc);
    docs.push_back(doc);
  }
  docs.push_back(read_file(std::string(PROSPECT_SOURCE_DIR) + "/README.md"));
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(PROSPECT_SOURCE_DIR) + "/docs", ec)) {
    if (entry.path().extension() == ".md") docs.push_back(read_file(entry.path().string()));
  }
  return docs;
}

// Rendered-style samples: frame blocks of 81 <image> tokens between dialogue turns and DST updates.
std::vector<std::string> rendered_corpus(int samples) {
  std::vector<std::string> docs;
  for (int s = 0; s < samples; ++s) {
    std::string doc =
        "<|im_start|>System: You are a helpful and proactive assistant.\n\nTask Steps:\nS1: Assemble the "
        "chassis "
        "by attaching and screwing the chassis parts together.\nS2: Attach wheels to the chassis.\nS3: Add "
        "the "
        "cabin window to the chassis.\n\nCurrent Progress: S1:completed, S2:in_progress<end_of_utterance>\n";
    for (int f = 0; f < 32; ++f) {
      doc += prospect::strformat("Frame from 00:%02d:%02d:", (s + f) / 60 % 60, (s * 7 + f) % 60);
      doc += "<fake_token_around_image><global-img>";
      for (int k = 0; k < 81; ++k) doc += "<image>";
      doc += "<fake_token_around_image>\n";
      if (f % 8 == 3)
        doc += "Assistant: DST_UPDATE: S" + std::to_string(f % 5 + 1) + "->complete<end_of_utterance>\n";
      if (f % 11 == 5) {
        doc += "User: Which screw goes into wheel " + std::to_string(f) +
               "? I can't find it.<end_of_utterance>\n";
        doc +=
            "Assistant: Great job on the first wheel! Now, screw the second one with the "
            "screwdriver.<end_of_utterance>\n";
      }
    }
    docs.push_back(doc);
  }
  return docs;
}

size_t total_bytes(const std::vector<std::string>& docs) {
  size_t n = 0;
  for (const auto& d : docs) n += d.size();
  return n;
}

// Encodes all docs `repeats` times on `threads` threads (each thread does the whole set); returns seconds.
double encode_all(const Tokenizer& tok, const std::vector<std::string>& docs, int repeats, int threads,
                  bool offsets, size_t* tokens) {
  std::vector<size_t> counts(threads, 0);
  auto work = [&](int t) {
    std::vector<prospect::text::Offset> offs;
    for (int r = 0; r < repeats; ++r) {
      for (const auto& d : docs) counts[t] += tok.encode(d, offsets ? &offs : nullptr).size();
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  double s = seconds_since(t0);
  *tokens = 0;
  for (size_t c : counts) *tokens += c;
  return s;
}

void report(const char* what, size_t bytes, size_t tokens, double s) {
  std::printf("%-44s %8.2f MB/s  %10.0f tokens/s  (%.3f s, %zu bytes, %zu tokens)\n", what, bytes / s / 1e6,
              tokens / s, s, bytes, tokens);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string shared = PROSPECT_TESTDATA_DIR;  // tests/peers/make_test_inputs.py writes it
  std::string path = argc > 1 ? argv[1] : shared + "/fixtures/smolvlm2-tokenizer/tokenizer.json";
  int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  try {
    auto t0 = Clock::now();
    Tokenizer cold = Tokenizer::load(path);
    std::printf("tokenizer %s: %d ids, loaded in %.1f ms\n", path.c_str(), cold.vocab_size(),
                1e3 * seconds_since(t0));

    std::vector<std::string> text = text_corpus(shared);
    std::vector<std::string> rendered = rendered_corpus(64);
    std::vector<std::string> mixed = text;
    mixed.insert(mixed.end(), rendered.begin(), rendered.end());
    size_t text_bytes = total_bytes(text), rendered_bytes = total_bytes(rendered),
           mixed_bytes = total_bytes(mixed);
    std::printf("corpus: %zu text docs (%zu bytes), %zu rendered samples (%zu bytes)\n", text.size(),
                text_bytes, rendered.size(), rendered_bytes);
    if (text.empty()) std::printf("warning: no sample data found under %s\n", shared.c_str());

    size_t tokens = 0;
    double s = encode_all(cold, text, 1, 1, false, &tokens);
    report("encode text, cold word cache, 1 thread", text_bytes, tokens, s);
    s = encode_all(cold, text, repeats, 1, false, &tokens);
    report("encode text, warm, 1 thread", text_bytes * repeats, tokens, s);
    s = encode_all(cold, text, repeats, 1, true, &tokens);
    report("encode text + offsets, warm, 1 thread", text_bytes * repeats, tokens, s);
    s = encode_all(cold, rendered, repeats, 1, false, &tokens);
    report("encode rendered (<image>-dense), 1 thread", rendered_bytes * repeats, tokens, s);
    s = encode_all(cold, mixed, repeats, 2, false, &tokens);
    report("encode mixed, 2 threads (total)", mixed_bytes * repeats * 2, tokens, s);

    // One data-loader sample: ~4096 tokens of dialogue text cut from the corpus.
    std::string sample;
    for (const auto& d : text) {
      sample += d;
      if (cold.encode(sample).size() >= 4096) break;
    }
    while (cold.encode(sample).size() > 4096)
      sample.resize(sample.size() * 4096 / cold.encode(sample).size() - 1);
    while (!sample.empty() && (static_cast<unsigned char>(sample.back()) & 0xC0) == 0x80) sample.pop_back();
    if (!sample.empty() && static_cast<unsigned char>(sample.back()) >= 0xC0) sample.pop_back();
    size_t sample_tokens = cold.encode(sample).size();
    const int kReps = 200;
    t0 = Clock::now();
    for (int r = 0; r < kReps; ++r) cold.encode(sample);
    std::printf("one %zu-token sequence (%zu bytes): %.3f ms per encode (warm)\n", sample_tokens,
                sample.size(), 1e3 * seconds_since(t0) / kReps);

    std::vector<std::vector<int32_t>> encoded;
    for (const auto& d : mixed) encoded.push_back(cold.encode(d));
    t0 = Clock::now();
    size_t out_bytes = 0;
    for (int r = 0; r < repeats; ++r) {
      for (const auto& ids : encoded) out_bytes += cold.decode(ids).size();
    }
    s = seconds_since(t0);
    std::printf("%-44s %8.2f MB/s  (%.3f s)\n", "decode mixed", out_bytes / s / 1e6, s);

    std::vector<std::string> names;
    for (int32_t id = 0; id < cold.vocab_size(); id += 7) names.push_back(cold.id_to_token(id));
    t0 = Clock::now();
    long long found = 0;
    const int kLookupReps = 20;
    for (int r = 0; r < kLookupReps; ++r) {
      for (const auto& n : names) found += cold.token_to_id(n) >= 0;
    }
    s = seconds_since(t0);
    std::printf("token_to_id: %.1f ns per lookup (%lld found)\n", 1e9 * s / (names.size() * kLookupReps),
                found);
  } catch (const prospect::Error& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
