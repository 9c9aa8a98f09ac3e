// Helpers shared by the data tests: the real sample paths, reading a file, and writing a temporary input file
// for the bad-input cases. Not a place for assertions.
#pragma once
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_util.h"

namespace prospect::test {

inline std::string dst_sample_path() { return shared_path("data/prospect-sample/dst_clip_assembly101.json"); }
inline std::string proassist_sample_path() {
  return shared_path("data/prospect-sample/proassist_prepared_assembly101.jsonl");
}
inline std::string tokenizer_path() { return shared_path("fixtures/smolvlm2-tokenizer/tokenizer.json"); }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to a fresh file under the temp directory and returns its path.
inline std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = unique_temp_path(name);
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

}  // namespace prospect::test
