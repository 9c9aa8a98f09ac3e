// Test-only reader for the .safetensors golden fixtures: reads the whole file, parses the JSON header with
// nlohmann and hands out raw bytes by tensor name. Deliberately minimal (no validation beyond bounds): the
// production reader is src/core/safetensors.h; this one keeps the frames/vision tests independent of it.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace prospect::test {

struct FixtureTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;

  std::vector<float> floats() const {
    if (dtype != "F32") throw std::runtime_error("tensor is " + dtype + ", not F32");
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
  }
  std::vector<uint8_t> u8() const {
    if (dtype != "U8") throw std::runtime_error("tensor is " + dtype + ", not U8");
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
};

// All tensors of `path` by name; throws std::runtime_error on an unreadable file.
inline std::map<std::string, FixtureTensor> read_fixture_tensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  if (all.size() < 8) throw std::runtime_error("too short: " + path);
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  if (n > all.size() - 8) throw std::runtime_error("bad header length: " + path);
  nlohmann::json header = nlohmann::json::parse(all.substr(8, n));
  size_t base = 8 + n;
  std::map<std::string, FixtureTensor> out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    FixtureTensor t;
    t.dtype = it.value()["dtype"].get<std::string>();
    t.shape = it.value()["shape"].get<std::vector<int64_t>>();
    uint64_t b = it.value()["data_offsets"][0].get<uint64_t>(),
             e = it.value()["data_offsets"][1].get<uint64_t>();
    if (e < b || base + e > all.size())
      throw std::runtime_error("bad offsets for " + it.key() + " in " + path);
    t.bytes = all.substr(base + b, e - b);
    out[it.key()] = std::move(t);
  }
  return out;
}

}  // namespace prospect::test
