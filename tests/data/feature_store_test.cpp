// Frame feature files (feature_store.h): files written here by the test (good ones in F32, F16 and BF16,
// contiguous and sparse frame indices; bad ones with a missing tensor, the wrong rank or dtype, a frame_index
// that is not strictly increasing or of another length), read back row by row and in batches, from several
// threads; every error names the file (and the frame).
#include "data/feature_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "core/safetensors.h"
#include "fixtures.h"

using namespace prospect;
using namespace prospect::data;
namespace st = prospect::safetensors;

namespace {

// Deterministic values in [-2, 2) for row r, token k, dim d.
std::vector<float> pattern(int64_t rows, int64_t tokens, int64_t dim) {
  std::vector<float> v(static_cast<size_t>(rows * tokens * dim));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(0.37 * double(i) + 0.1) * 2.0);
  return v;
}

// The message of the prospect::Error `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& piece) { return s.find(piece) != std::string::npos; }

// A safetensors file with the given `features` and `frame_index` entries, as raw tensors (to write bad
// files).
std::string write_raw(const std::string& name, st::DType fdtype, std::vector<int64_t> fshape,
                      std::vector<int64_t> index, bool with_features = true, bool with_index = true,
                      st::DType idtype = st::DType::I64) {
  int64_t n = 1;
  for (int64_t d : fshape) n *= d;
  std::vector<uint8_t> fbytes(static_cast<size_t>(n) * st::dtype_size(fdtype), 0);
  std::vector<int32_t> index32(index.begin(), index.end());
  std::vector<st::WriteTensor> t;
  if (with_features) t.push_back({"features", fdtype, fshape, fbytes.data(), fbytes.size()});
  if (with_index) {
    if (idtype == st::DType::I64)
      t.push_back({"frame_index", idtype, {int64_t(index.size())}, index.data(), index.size() * 8});
    else
      t.push_back({"frame_index", idtype, {int64_t(index.size())}, index32.data(), index32.size() * 4});
  }
  std::string path = test::unique_temp_path(name);
  st::write_file(path, t);
  return path;
}

}  // namespace

TEST(FeatureStore, ReadsF32F16Bf16RowsByVideoFrame) {
  const int64_t K = 4, D = 6;
  // Frames 10..29 contiguous, then a sparse file with every third frame.
  std::vector<int64_t> contiguous, sparse;
  for (int64_t f = 10; f < 30; ++f) contiguous.push_back(f);
  for (int64_t f = 0; f < 60; f += 3) sparse.push_back(f);
  const std::vector<float> values = pattern(20, K, D);
  for (auto dtype : {st::DType::F32, st::DType::F16, st::DType::BF16}) {
    for (const auto* index : {&contiguous, &sparse}) {
      std::string path = test::unique_temp_path(std::string("f_") + st::dtype_name(dtype) + ".safetensors");
      write_feature_file(path, *index, values, K, D, dtype, {{"encoder", "test"}});
      FeatureStore s(path);
      ASSERT_EQ(s.num_rows(), 20);
      ASSERT_EQ(s.tokens_per_frame(), K);
      ASSERT_EQ(s.dim(), D);
      EXPECT_EQ(s.dtype(), dtype);
      EXPECT_EQ(s.metadata().at("format"), kFeatureFileFormat);
      EXPECT_EQ(s.metadata().at("encoder"), "test");
      // Half-precision formats round: f16 keeps 11 significant bits, bf16 8.
      const double tol = dtype == st::DType::F32 ? 0.0 : dtype == st::DType::F16 ? 2.0 / 2048 : 2.0 / 256;
      double max_err = 0;
      for (int64_t r = 0; r < 20; ++r) {
        const int64_t frame = (*index)[size_t(r)];
        ASSERT_TRUE(s.has_frame(frame));
        EXPECT_EQ(s.row_of(frame), r);
        std::vector<float> got = s.frame_features(frame);
        ASSERT_EQ(got.size(), size_t(K * D));
        for (int64_t i = 0; i < K * D; ++i)
          max_err = std::max(max_err, std::fabs(double(got[size_t(i)]) - values[size_t(r * K * D + i)]));
      }
      // A batch in any order, repeats allowed, equals the rows one by one.
      std::vector<int64_t> want = {(*index)[7], (*index)[0], (*index)[19], (*index)[7]};
      std::vector<float> batch(want.size() * K * D);
      s.features(want, batch.data());
      int64_t batch_diff = 0;
      for (size_t j = 0; j < want.size(); ++j) {
        std::vector<float> one = s.frame_features(want[j]);
        for (size_t i = 0; i < one.size(); ++i) batch_diff += one[i] != batch[j * K * D + i];
      }
      // Frames between and around the rows are absent.
      int64_t absent = 0;
      for (int64_t f = -2; f < 65; ++f) absent += !s.has_frame(f);
      std::cout << st::dtype_name(dtype) << (index == &contiguous ? " contiguous" : " sparse")
                << ": 20 rows x " << K << " x " << D << ", max |read - written| " << max_err << " (tol "
                << tol << "), batch vs rows differ in " << batch_diff << " values, " << absent
                << " of frames -2..64 absent\n";
      EXPECT_LE(max_err, tol);
      EXPECT_EQ(batch_diff, 0);
      EXPECT_EQ(absent, 67 - 20);
    }
  }
}

TEST(FeatureStore, CountsMissingFramesOfARange) {
  std::vector<int64_t> index = {0, 1, 2, 5, 6, 9};
  std::string path = test::unique_temp_path("gaps.safetensors");
  write_feature_file(path, index, pattern(6, 1, 2), 1, 2);
  FeatureStore s(path);
  int64_t first = 0;
  struct Case {
    int64_t b, e, missing, first;
  };
  for (Case c : std::vector<Case>{{0, 3, 0, -1},
                                  {0, 7, 2, 3},
                                  {2, 10, 4, 3},
                                  {5, 7, 0, -1},
                                  {6, 12, 4, 7},
                                  {10, 12, 2, 10},
                                  {4, 4, 0, -1}}) {
    int64_t m = s.count_missing(c.b, c.e, &first);
    std::cout << "[" << c.b << ", " << c.e << "): missing " << m << " first " << first << " (expected "
              << c.missing << ", " << c.first << ")\n";
    EXPECT_EQ(m, c.missing);
    EXPECT_EQ(first, c.first);
  }
}

TEST(FeatureStore, MissingFrameNamesFileAndFrame) {
  std::string path = test::unique_temp_path("short.safetensors");
  write_feature_file(path, {0, 1, 2, 3}, pattern(4, 1, 3), 1, 3);
  FeatureStore s(path);
  std::string e = error_of([&] { s.frame_features(7); });
  EXPECT_TRUE(contains(e, path));
  EXPECT_TRUE(contains(e, "frame 7 has no row"));
  EXPECT_TRUE(contains(e, "4 rows for frames 0..3"));
  // A batch with one absent frame writes nothing and names that frame.
  std::vector<float> out(3 * 3, -1.f);
  e = error_of([&] { s.features({1, 2, 4}, out.data()); });
  EXPECT_TRUE(contains(e, "frame 4 has no row"));
  int64_t untouched = 0;
  for (float v : out) untouched += v == -1.f;
  EXPECT_EQ(untouched, 9);
}

TEST(FeatureStore, BadFilesAreErrorsNamingFileAndTensor) {
  struct Case {
    const char* what;
    std::string path;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases = {
      {"missing file", test::unique_temp_path("absent.safetensors"), {"absent.safetensors", "not found"}},
      {"not safetensors",
       test::write_temp_file("junk.safetensors", "this is not a safetensors file"),
       {"junk.safetensors"}},
      {"no features",
       write_raw("nofeat.safetensors", st::DType::F32, {2, 1, 4}, {0, 1}, false),
       {"nofeat.safetensors", "tensor 'features'", "missing tensor"}},
      {"no frame_index",
       write_raw("noindex.safetensors", st::DType::F32, {2, 1, 4}, {0, 1}, true, false),
       {"noindex.safetensors", "tensor 'frame_index'", "missing tensor"}},
      {"rank 2",
       write_raw("rank2.safetensors", st::DType::F32, {2, 4}, {0, 1}),
       {"rank2.safetensors", "tensor 'features'", "rank 2", "expected rank 3"}},
      {"I32 features",
       write_raw("i32.safetensors", st::DType::I32, {2, 1, 4}, {0, 1}),
       {"i32.safetensors", "tensor 'features'", "dtype I32", "F32, F16 or BF16"}},
      {"I32 frame_index",
       write_raw("idx32.safetensors", st::DType::F32, {2, 1, 4}, {0, 1}, true, true, st::DType::I32),
       {"idx32.safetensors", "tensor 'frame_index'", "dtype I32", "expected I64"}},
      {"index length",
       write_raw("len.safetensors", st::DType::F32, {3, 1, 4}, {0, 1}),
       {"len.safetensors", "tensor 'frame_index'", "has 2 entries but features has 3 rows"}},
      {"repeated frame",
       write_raw("repeat.safetensors", st::DType::F32, {3, 1, 4}, {0, 4, 4}),
       {"repeat.safetensors", "not strictly increasing", "row 2 names frame 4 after frame 4"}},
      {"decreasing",
       write_raw("down.safetensors", st::DType::F32, {3, 1, 4}, {5, 3, 8}),
       {"down.safetensors", "not strictly increasing", "row 1 names frame 3 after frame 5"}},
      {"negative frame",
       write_raw("neg.safetensors", st::DType::F32, {2, 1, 4}, {-1, 0}),
       {"neg.safetensors", "negative"}},
      {"zero dim",
       write_raw("zero.safetensors", st::DType::F32, {2, 1, 0}, {0, 1}),
       {"zero.safetensors", "must be positive"}},
  };
  int named = 0;
  for (const Case& c : cases) {
    std::cout << c.what << ":\n";
    std::string e = error_of([&] { FeatureStore s(c.path); });
    ASSERT_FALSE(e.empty()) << c.what << ": no error";
    bool all = true;
    for (const auto& piece : c.expect) {
      EXPECT_TRUE(contains(e, piece)) << c.what << ": '" << piece << "' not in: " << e;
      all = all && contains(e, piece);
    }
    named += all;
  }
  std::cout << named << " of " << cases.size() << " bad files rejected with the expected message\n";
  EXPECT_EQ(named, int(cases.size()));
}

TEST(FeatureStore, WriterRefusesWhatTheReaderRefuses) {
  std::string path = test::unique_temp_path("w.safetensors");
  EXPECT_TRUE(contains(error_of([&] {
                         write_feature_file(path, {0, 2, 1}, pattern(3, 1, 2), 1, 2);
                       }),
                       "not strictly increasing"));
  EXPECT_TRUE(contains(error_of([&] {
                         write_feature_file(path, {0, 1}, pattern(3, 1, 2), 1, 2);
                       }),
                       "6 values for 2 rows"));
  EXPECT_TRUE(
      contains(error_of([&] { write_feature_file(path, {0}, pattern(1, 1, 2), 1, 2, st::DType::I8); }),
               "cannot be stored as I8"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(FeatureStore, OpensRelativeToADataRoot) {
  std::string root = test::fresh_dir("root");
  std::filesystem::create_directories(root + "/feats");
  write_feature_file(root + "/feats/v.safetensors", {0, 1}, pattern(2, 1, 2), 1, 2);
  auto s = open_feature_store(root, "feats/v.safetensors");
  EXPECT_EQ(s->num_rows(), 2);
  EXPECT_EQ(s->path(), feature_store_path(root, "feats/v.safetensors"));
  // An absolute features_file ignores the root.
  EXPECT_EQ(open_feature_store("/nonexistent", root + "/feats/v.safetensors")->num_rows(), 2);
  std::string e = error_of([&] { open_feature_store(root, "feats/w.safetensors"); });
  EXPECT_TRUE(
      contains(e, "features file not found; tried: " + feature_store_path(root, "feats/w.safetensors")));
  EXPECT_TRUE(contains(error_of([&] { open_feature_store(root, ""); }), "no features file named"));
}

TEST(FeatureStore, ConcurrentReadsAgree) {
  const int64_t rows = 200, K = 2, D = 16;
  std::vector<int64_t> index;
  for (int64_t r = 0; r < rows; ++r) index.push_back(3 * r + 1);
  const std::vector<float> values = pattern(rows, K, D);
  std::string path = test::unique_temp_path("mt.safetensors");
  write_feature_file(path, index, values, K, D, st::DType::BF16);
  const FeatureStore s(path);
  std::vector<int64_t> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        for (int64_t r = t; r < rows; r += 4) {
          std::vector<float> got = s.frame_features(index[size_t(r)]);
          for (int64_t i = 0; i < K * D; ++i)
            wrong[size_t(t)] += std::fabs(got[size_t(i)] - values[size_t(r * K * D + i)]) > 2.0 / 256;
        }
    });
  }
  for (auto& th : threads) th.join();
  std::cout << "4 threads x 20 passes over " << rows << " rows: wrong values "
            << wrong[0] + wrong[1] + wrong[2] + wrong[3] << "\n";
  EXPECT_EQ(wrong[0] + wrong[1] + wrong[2] + wrong[3], 0);
}
