// safetensors reader/writer: round trips for every dtype, sharded checkpoints, the golden fixture, and
// files whose header lies (each must be a prospect::Error naming the file and the tensor, never a crash).
#include "core/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/error.h"
#include "fixtures.h"

namespace st = prospect::safetensors;
namespace fs = std::filesystem;

namespace {

// A file with an arbitrary header and data section, for lying-header cases.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes,
               uint64_t claimed_len = 0) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = claimed_len ? claimed_len : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  std::string data(data_bytes, '\x01');
  out << data;
}

// Runs `open` and expects a prospect::Error whose message contains every string of `needles`.
void expect_open_error(const std::string& path, const std::vector<std::string>& needles) {
  try {
    st::File::open(path);
    ADD_FAILURE() << "expected an error for " << path;
  } catch (const prospect::Error& e) {
    std::string msg = e.what();
    std::cout << "  error: " << msg << "\n";
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << "missing '" << n << "' in: " << msg;
  }
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtype) {
  std::string dir = prospect::test::fresh_dir("rt");
  const st::DType all[] = {st::DType::F64, st::DType::F32, st::DType::F16, st::DType::BF16, st::DType::I64,
                           st::DType::I32, st::DType::I16, st::DType::I8,  st::DType::U8,   st::DType::BOOL};
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<st::WriteTensor> ts;
  int k = 0;
  for (st::DType d : all) {
    std::vector<int64_t> shape = {2, 3 + k % 3};
    size_t n = static_cast<size_t>(shape[0] * shape[1]) * st::dtype_size(d);
    std::vector<uint8_t> buf(n);
    for (size_t i = 0; i < n; ++i)
      buf[i] = static_cast<uint8_t>((i * 37 + k) & (d == st::DType::BOOL ? 1 : 0xff));
    buffers.push_back(buf);
    ts.push_back({std::string("t_") + st::dtype_name(d), d, shape, nullptr, n});
    ++k;
  }
  for (size_t i = 0; i < ts.size(); ++i) ts[i].data = buffers[i].data();
  // a scalar and an empty tensor are legal too
  float scalar = 3.5f;
  ts.push_back({"scalar", st::DType::F32, {}, &scalar, 4});
  ts.push_back({"empty", st::DType::F32, {0, 4}, nullptr, 0});
  std::string path = dir + "/rt.safetensors";
  st::write_file(path, ts, {{"format", "pt"}, {"note", "hello"}});

  auto f = st::File::open(path);
  EXPECT_EQ(f->names().size(), ts.size());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "hello");
  int compared = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    auto v = f->get(ts[i].name);
    EXPECT_EQ(v.info->dtype, ts[i].dtype) << ts[i].name;
    EXPECT_EQ(v.info->shape, ts[i].shape) << ts[i].name;
    ASSERT_EQ(v.info->nbytes(), ts[i].nbytes) << ts[i].name;
    if (ts[i].nbytes) {
      EXPECT_EQ(std::memcmp(v.data, ts[i].data, ts[i].nbytes), 0) << ts[i].name;
    }
    ++compared;
  }
  std::cout << "round trip: " << compared << " tensors, byte-identical\n";
  EXPECT_EQ(st::to_float32(f->get("scalar"))[0], 3.5f);
  // the header is padded so the data section starts 8-byte aligned
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u) << "header length " << n;
  fs::remove_all(dir);
}

TEST(Safetensors, ConversionsBf16F16) {
  const float vals[] = {0.f,   -0.f,    1.f,      -2.5f, 3.14159f, 65504.f,
                        1e-3f, 6.1e-5f, 5.96e-8f, 1e-8f, 1e30f,    -7.25f};
  int checked = 0;
  for (float v : vals) {
    float b = st::bf16_to_float(st::float_to_bf16(v));
    EXPECT_LE(std::fabs(b - v), std::fabs(v) * (1.0f / 128)) << "bf16 " << v << " -> " << b;
    if (std::fabs(v) <= 65504.f) {
      float h = st::f16_to_float(st::float_to_f16(v));
      float tol = std::max(std::fabs(v) / 1024.f, 6e-8f);
      EXPECT_LE(std::fabs(h - v), tol) << "f16 " << v << " -> " << h;
    }
    ++checked;
  }
  // exact values and round-to-nearest-even
  EXPECT_EQ(st::float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(st::float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(st::float_to_f16(65504.f), 0x7bff);
  EXPECT_EQ(st::float_to_f16(1e6f), 0x7c00);  // overflow -> inf
  EXPECT_EQ(st::f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isnan(st::bf16_to_float(st::float_to_bf16(std::nanf("")))));
  // every f16 bit pattern survives f16 -> f32 -> f16 (NaNs aside)
  int exact = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue;
    if (st::float_to_f16(st::f16_to_float(static_cast<uint16_t>(h))) == h) ++exact;
  }
  std::cout << "conversions: " << checked << " values within tolerance, " << exact << " f16 patterns exact\n";
  EXPECT_EQ(exact, 65536 - 2 * 1023);
}

TEST(Safetensors, ReadsGoldenFixture) {
  std::string path = prospect::test::tiny_fixture_dir() + "/tiny_io.safetensors";
  PROSPECT_REQUIRE_FIXTURE(path);
  // What transformers reported when it wrote the file (tiny_meta.json, same generator run).
  std::string meta_path = prospect::test::tiny_fixture_dir() + "/tiny_meta.json";
  PROSPECT_REQUIRE_FIXTURE(meta_path);
  auto meta = nlohmann::json::parse(prospect::test::read_file_text(meta_path));
  const int64_t T = meta["tiny"]["T"].get<int64_t>(),
                image_seq_len = meta["tiny"]["image_seq_len"].get<int64_t>();
  const int64_t image_token_id = meta["tokenizer"]["image_token_id"].get<int64_t>();
  const double meta_loss = meta["tiny"]["loss"].get<double>();
  int64_t n_images = 0, max_images = 0;
  for (const auto& n : meta["tiny"]["n_images"]) {
    n_images += n.get<int64_t>();
    max_images = std::max(max_images, n.get<int64_t>());
  }
  auto f = st::File::open(path);
  auto ids = f->get("input_ids");
  EXPECT_EQ(ids.info->dtype, st::DType::I64);
  EXPECT_EQ(ids.info->shape, (std::vector<int64_t>{2, T}));
  auto pv = f->get("pixel_values");
  EXPECT_EQ(pv.info->shape, (std::vector<int64_t>{2, max_images, 3, 32, 32}));
  float loss = st::to_float32(f->get("loss"))[0];
  std::cout << "fixture loss " << loss << " (meta " << meta_loss << ")\n";
  EXPECT_NEAR(loss, meta_loss, 1e-6);
  auto v = st::to_int64(ids);
  int64_t image_tokens = 0;
  for (int64_t x : v) image_tokens += x == image_token_id;
  std::cout << "image tokens " << image_tokens << " (expected " << n_images << " x " << image_seq_len
            << ")\n";
  EXPECT_EQ(image_tokens, n_images * image_seq_len);
  EXPECT_THROW(st::to_int64(pv), prospect::Error);
  EXPECT_THROW(f->get("no_such"), prospect::Error);
}

TEST(Safetensors, ShardedCheckpoint) {
  std::string dir = prospect::test::fresh_dir("shard");
  std::vector<float> a(6, 1.f), b(4, 2.f), c(3, 3.f);
  st::write_file(dir + "/model-00001-of-00002.safetensors",
                 {{"a", st::DType::F32, {2, 3}, a.data(), 24}, {"b", st::DType::F32, {4}, b.data(), 16}});
  st::write_file(dir + "/model-00002-of-00002.safetensors", {{"c", st::DType::F32, {3}, c.data(), 12}});
  st::write_index(dir + "/model.safetensors.index.json",
                  {{"a", "model-00001-of-00002.safetensors"},
                   {"b", "model-00001-of-00002.safetensors"},
                   {"c", "model-00002-of-00002.safetensors"}},
                  {{"total_size", "52"}});
  auto ck = st::Checkpoint::open(dir);
  std::cout << "sharded: " << ck.num_shards() << " shards, " << ck.names().size() << " tensors\n";
  EXPECT_EQ(ck.num_shards(), 2u);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(st::to_float32(ck.get("c")), c);
  EXPECT_EQ(st::to_float32(ck.get("a")), a);
  EXPECT_EQ(ck.metadata().at("total_size"), "52");
  EXPECT_NE(ck.file_of("c").find("00002"), std::string::npos);
  EXPECT_THROW(ck.get("d"), prospect::Error);

  // the index names a tensor its shard lacks
  st::write_index(dir + "/model.safetensors.index.json",
                  {{"a", "model-00001-of-00002.safetensors"}, {"zz", "model-00002-of-00002.safetensors"}});
  try {
    st::Checkpoint::open(dir);
    ADD_FAILURE() << "expected an error";
  } catch (const prospect::Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("zz"), std::string::npos);
  }
  // a missing shard
  st::write_index(dir + "/model.safetensors.index.json", {{"a", "model-00009-of-00009.safetensors"}});
  EXPECT_THROW(st::Checkpoint::open(dir), prospect::Error);
  // a single-file checkpoint and an empty directory
  std::string d2 = prospect::test::fresh_dir("single");
  EXPECT_THROW(st::Checkpoint::open(d2), prospect::Error);
  st::write_file(d2 + "/model.safetensors", {{"x", st::DType::F32, {3}, c.data(), 12}});
  EXPECT_EQ(st::Checkpoint::open(d2).names(), (std::vector<std::string>{"x"}));
  fs::remove_all(dir);
  fs::remove_all(d2);
}

TEST(Safetensors, LyingHeadersAreErrors) {
  std::string dir = prospect::test::fresh_dir("lie");
  std::string p = dir + "/bad.safetensors";
  int cases = 0;
  auto hdr = [](const std::string& body) { return std::string("{") + body + "}"; };

  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), 8);
  expect_open_error(p, {"bad.safetensors", "'w'", "past the data section"});
  ++cases;
  write_raw(
      p,
      hdr(R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]})"),
      24);
  expect_open_error(p, {"bad.safetensors", "overlaps"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]})"), 16);
  expect_open_error(p, {"'w'", "needs 12"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), 16, 1ull << 40);
  expect_open_error(p, {"bad.safetensors", "header length"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), 16, 4000);
  expect_open_error(p, {"bad.safetensors", "past the end of the file"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[4],"data_offsets":[16,8]})"), 16);
  expect_open_error(p, {"'w'", "begin"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]})"), 16);
  expect_open_error(p, {"'w'", "unsupported dtype"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]})"), 16);
  expect_open_error(p, {"'w'", "negative"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]})"), 16);
  expect_open_error(p, {"'w'", "overflows"});
  ++cases;
  write_raw(p, "{\"w\": [1,2", 16);
  expect_open_error(p, {"bad.safetensors", "not valid JSON"});
  ++cases;
  write_raw(p, hdr(R"("w":{"dtype":"F32","shape":[4]})"), 16);
  expect_open_error(p, {"'w'", "data_offsets"});
  ++cases;
  write_raw(p, hdr(R"("__metadata__":{"k":3})"), 0);
  expect_open_error(p, {"__metadata__"});
  ++cases;
  {
    std::ofstream out(p, std::ios::binary);
    out << "abc";
  }
  expect_open_error(p, {"bad.safetensors", "too short"});
  ++cases;
  // a valid file cut short
  std::vector<float> v(64, 1.f);
  st::write_file(p, {{"w", st::DType::F32, {64}, v.data(), 256}});
  fs::resize_file(p, fs::file_size(p) - 10);
  expect_open_error(p, {"bad.safetensors", "'w'", "truncated"});
  ++cases;
  expect_open_error(dir + "/absent.safetensors", {"absent.safetensors", "cannot open"});
  ++cases;
  // the writer refuses what the reader would refuse
  EXPECT_THROW(st::write_file(p, {{"w", st::DType::F32, {3}, v.data(), 16}}), prospect::Error);
  EXPECT_THROW(
      st::write_file(p, {{"w", st::DType::F32, {1}, v.data(), 4}, {"w", st::DType::F32, {1}, v.data(), 4}}),
      prospect::Error);
  std::cout << "lying headers: " << cases << " cases, each a prospect::Error\n";
  fs::remove_all(dir);
}
