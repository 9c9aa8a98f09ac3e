// Arrow IPC reader/writer: the pyarrow-written fixtures (stream in 3 batches, file format in 1), random
// access across batch boundaries, writer round trips, legacy framing, and truncated / corrupted bytes (every
// cut and every flipped byte must give either good data or a prospect::Error, never a crash).
#include "data/arrow_reader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "data/arrow_writer.h"
#include "data/base64.h"
#include "fixtures.h"

namespace fs = std::filesystem;
using prospect::data::ArrowField;
using prospect::data::ArrowReader;
using prospect::data::ArrowWriter;
using prospect::test::read_file_text;
using prospect::test::unique_temp_path;

namespace {

const std::string kStream = prospect::test::shared_path("fixtures/frames/video_stream.arrow");
const std::string kFile = prospect::test::shared_path("fixtures/frames/video_file.arrow");

ArrowField field(const std::string& name, int type_id) {
  ArrowField f;
  f.name = name;
  f.type_id = type_id;
  return f;
}

// Opens and reads every value of every binary-like column. Returns "ok", or the prospect::Error message.
std::string read_everything(std::string bytes, const std::string& name, int64_t* rows = nullptr) {
  try {
    auto r = ArrowReader::open_bytes(std::move(bytes), name);
    for (size_t c = 0; c < r->fields().size(); c++) {
      if (!r->fields()[c].is_binary_like()) continue;
      for (int64_t i = 0; i < r->num_rows(); i++) (void)r->value(i, int(c));
    }
    if (rows) *rows = r->num_rows();
    return "ok";
  } catch (const prospect::Error& e) {
    return e.what();
  }
}

}  // namespace

TEST(ArrowReader, StreamFixtureSchemaAndBatches) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  auto r = ArrowReader::open(kStream);
  EXPECT_FALSE(r->is_file_format());
  ASSERT_EQ(r->fields().size(), 1u);
  EXPECT_EQ(r->fields()[0].name, "frame");
  EXPECT_EQ(r->fields()[0].type_id, 5) << "utf8";
  EXPECT_EQ(r->num_rows(), 24);
  ASSERT_EQ(r->num_batches(), 3);
  std::printf("stream: %lld rows in batches %lld, %lld, %lld\n", (long long)r->num_rows(),
              (long long)r->batch_rows(0), (long long)r->batch_rows(1), (long long)r->batch_rows(2));
  EXPECT_EQ(r->batch_rows(0), 10);
  EXPECT_EQ(r->batch_rows(1), 10);
  EXPECT_EQ(r->batch_rows(2), 4);
  std::string hf = r->metadata("huggingface");
  std::printf("huggingface metadata: %s\n", hf.c_str());
  auto j = nlohmann::json::parse(hf);
  EXPECT_EQ(j["info"]["features"]["frame"]["dtype"], "string");
  EXPECT_EQ(r->metadata("absent"), "");
  // frames_meta.json (written by the generator with the same strings): every frame's base64 length.
  std::string meta_path = prospect::test::shared_path("fixtures/frames/frames_meta.json");
  PROSPECT_REQUIRE_FIXTURE(meta_path);
  auto meta = nlohmann::json::parse(read_file_text(meta_path));
  EXPECT_EQ(r->value(0, 0).size(), meta["b64_len_frame0"].get<size_t>());
  ASSERT_EQ(meta["b64_len"].size(), static_cast<size_t>(r->num_rows()));
  for (int64_t i = 0; i < r->num_rows(); i++)
    EXPECT_EQ(r->value(i, 0).size(), meta["b64_len"][static_cast<size_t>(i)].get<size_t>()) << "frame " << i;
  EXPECT_EQ(r->value(0, 0).substr(0, 4), "/9j/") << "base64 of a JPEG's FF D8 FF";
}

TEST(ArrowReader, FileFixtureMatchesStreamForAllFrames) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  PROSPECT_REQUIRE_FIXTURE(kFile);
  auto s = ArrowReader::open(kStream);
  auto f = ArrowReader::open(kFile);
  EXPECT_TRUE(f->is_file_format());
  EXPECT_EQ(f->num_batches(), 1);
  ASSERT_EQ(f->num_rows(), s->num_rows());
  EXPECT_EQ(f->metadata("huggingface"), s->metadata("huggingface"));
  int same = 0;
  for (int64_t i = 0; i < s->num_rows(); i++) {
    bool eq = s->value(i, 0) == f->value(i, 0);
    if (!eq)
      ADD_FAILURE() << "frame " << i << " differs: stream " << s->value(i, 0).size() << " bytes, file "
                    << f->value(i, 0).size() << " bytes";
    same += eq;
  }
  std::printf("stream vs file: %d of %lld frames identical\n", same, (long long)s->num_rows());
  EXPECT_EQ(same, 24);
}

TEST(ArrowReader, RandomAccessAcrossBatchBoundaries) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  PROSPECT_REQUIRE_FIXTURE(kFile);
  auto s = ArrowReader::open(kStream);
  auto f = ArrowReader::open(kFile);
  for (int64_t i : {9, 10, 19, 20, 23, 0, 23, 10, 9}) {
    EXPECT_EQ(s->value(i, 0), f->value(i, 0)) << "frame " << i;
    EXPECT_GT(s->value(i, 0).size(), 1000u) << "frame " << i;
  }
  // Neighbouring frames differ (the drawings move), so a batch mix-up would show.
  EXPECT_NE(s->value(9, 0), s->value(10, 0));
  EXPECT_NE(s->value(19, 0), s->value(20, 0));
}

TEST(ArrowReader, OutOfRangeRowNamesFileAndRow) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  auto r = ArrowReader::open(kStream);
  for (int64_t row : {24, -1, 1000000}) {
    try {
      (void)r->value(row, 0);
      ADD_FAILURE() << "row " << row << " did not throw";
    } catch (const prospect::Error& e) {
      std::string m = e.what();
      std::printf("row %lld: %s\n", (long long)row, m.c_str());
      EXPECT_NE(m.find(kStream), std::string::npos) << m;
      EXPECT_NE(m.find("row " + std::to_string(row)), std::string::npos) << m;
    }
  }
  EXPECT_THROW((void)r->value(0, 1), prospect::Error);
  EXPECT_THROW((void)r->batch_rows(3), prospect::Error);
}

TEST(ArrowReader, MissingFileIsAnError) {
  try {
    ArrowReader::open("/nonexistent/frames.arrow");
    ADD_FAILURE() << "no throw";
  } catch (const prospect::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/frames.arrow"), std::string::npos) << e.what();
  }
}

TEST(ArrowWriter, RoundTripStreamAndFileSeveralBatches) {
  std::mt19937 rng(7);
  std::vector<ArrowField> fields = {field("frame", 5), field("raw", 4), field("big", 20), field("blob", 19)};
  std::vector<std::pair<std::string, std::string>> meta = {
      {"huggingface", R"({"info": {"features": {"frame": {"dtype": "string", "_type": "Value"}}}})"},
      {"other", "x"}};
  std::vector<int> batch_sizes = {3, 0, 5, 1};
  std::vector<std::vector<std::string>> expect(fields.size());
  std::vector<std::vector<std::vector<std::string>>> batches;
  for (int n : batch_sizes) {
    std::vector<std::vector<std::string>> cols(fields.size());
    for (size_t c = 0; c < fields.size(); c++) {
      for (int r = 0; r < n; r++) {
        std::string v(rng() % 300, '\0');
        for (char& ch : v) ch = char(rng() & 0xFF);
        if (c == 0) v = prospect::data::base64_encode(v);
        if (r == 1) v.clear();  // empty values are legal
        cols[c].push_back(v);
        expect[c].push_back(v);
      }
    }
    batches.push_back(cols);
  }
  for (bool file_format : {false, true}) {
    std::string path = unique_temp_path(file_format ? "rt_file.arrow" : "rt_stream.arrow");
    {
      ArrowWriter w(path, fields, meta, file_format);
      for (const auto& b : batches) w.write_batch(b);
      w.finish();
    }
    auto r = ArrowReader::open(path);
    EXPECT_EQ(r->is_file_format(), file_format);
    ASSERT_EQ(r->fields().size(), fields.size());
    for (size_t c = 0; c < fields.size(); c++) {
      EXPECT_EQ(r->fields()[c].name, fields[c].name);
      EXPECT_EQ(r->fields()[c].type_id, fields[c].type_id);
    }
    EXPECT_EQ(r->schema_metadata(), meta);
    ASSERT_EQ(r->num_batches(), int(batch_sizes.size()));
    ASSERT_EQ(r->num_rows(), 9);
    int mismatches = 0;
    for (size_t c = 0; c < fields.size(); c++)
      for (int64_t i = 0; i < r->num_rows(); i++)
        if (r->value(i, int(c)) != expect[c][size_t(i)]) mismatches++;
    std::printf("%s round trip: %lld rows x %zu columns, %d mismatches, %llu bytes\n",
                file_format ? "file" : "stream", (long long)r->num_rows(), fields.size(), mismatches,
                (unsigned long long)fs::file_size(path));
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(ArrowWriter, RejectsNonBinaryColumnsAndRaggedBatches) {
  EXPECT_THROW(ArrowWriter(unique_temp_path("bad.arrow"), {field("x", 2)}, {}), prospect::Error);
  ArrowWriter w(unique_temp_path("ragged.arrow"), {field("a", 5), field("b", 4)}, {});
  EXPECT_THROW(w.write_batch({{"1", "2"}, {"1"}}), prospect::Error);
  EXPECT_THROW(w.write_batch({{"1"}}), prospect::Error);
  w.finish();
  EXPECT_THROW(ArrowWriter("/nonexistent/dir/x.arrow", {field("a", 5)}, {}), prospect::Error);
}

TEST(ArrowReader, LegacyFramingWithoutContinuationMarker) {
  // Re-frame a one-batch stream the pre-0.15 way: int32 length without the 0xFFFFFFFF marker, and a 4-byte
  // zero as end of stream.
  std::string path = unique_temp_path("legacy_src.arrow");
  {
    ArrowWriter w(path, {field("frame", 5)}, {{"huggingface", "{}"}});
    w.write_batch({{"aGVsbG8=", "d29ybGQ=", ""}});
    w.finish();
  }
  std::string b = read_file_text(path);
  int32_t l0;
  std::memcpy(&l0, b.data() + 4, 4);
  size_t second = 8 + size_t(l0);
  std::string legacy =
      b.substr(4, size_t(l0) + 4) + b.substr(second + 4, b.size() - 8 - second - 4) + std::string(4, '\0');
  auto r = ArrowReader::open_bytes(legacy, "legacy");
  ASSERT_EQ(r->num_rows(), 3);
  EXPECT_EQ(r->value(0, 0), "aGVsbG8=");
  EXPECT_EQ(r->value(1, 0), "d29ybGQ=");
  EXPECT_EQ(r->value(2, 0), "");
  EXPECT_EQ(r->metadata("huggingface"), "{}");
  // A stream that simply stops after its last batch (no end-of-stream marker) is read as well.
  auto r2 = ArrowReader::open_bytes(b.substr(0, b.size() - 8), "no-eos");
  EXPECT_EQ(r2->num_rows(), 3);
}

TEST(ArrowReader, TruncatedStreamAtEveryCutGivesDataOrError) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  std::string b = read_file_text(kStream);
  int ok = 0, errors = 0, cuts = 0;
  int64_t max_rows_when_ok = -1;
  std::string sample;
  for (size_t cut = 0; cut < b.size(); cut += (cut < 600 || cut + 600 > b.size()) ? 1 : 37) {
    int64_t rows = -1;
    std::string res = read_everything(b.substr(0, cut), "cut" + std::to_string(cut), &rows);
    cuts++;
    if (res == "ok") {
      ok++;
      // Only a cut exactly at a message boundary reads cleanly, and then it holds whole batches (all 24
      // when only the end-of-stream marker is cut off).
      EXPECT_TRUE(rows == 0 || rows == 10 || rows == 20 || rows == 24) << "cut " << cut << " read " << rows;
      max_rows_when_ok = std::max(max_rows_when_ok, rows);
    } else {
      errors++;
      EXPECT_NE(res.find("cut" + std::to_string(cut)), std::string::npos) << res;
      if (sample.empty() && cut > 1000) sample = res;
    }
  }
  std::printf("stream truncated at %d points: %d read cleanly (at message boundaries), %d errors\n", cuts, ok,
              errors);
  std::printf("e.g. %s\n", sample.c_str());
  EXPECT_GT(errors, cuts - 10);
}

TEST(ArrowReader, TruncatedFileFormatAlwaysErrors) {
  PROSPECT_REQUIRE_FIXTURE(kFile);
  std::string b = read_file_text(kFile);
  int errors = 0, cuts = 0;
  for (size_t cut = 0; cut < b.size(); cut += (cut < 400 || cut + 800 > b.size()) ? 1 : 53) {
    std::string res = read_everything(b.substr(0, cut), "cut" + std::to_string(cut));
    cuts++;
    if (res != "ok")
      errors++;
    else
      ADD_FAILURE() << "cut at " << cut << " of " << b.size() << " read without error";
  }
  std::printf("file format truncated at %d points: %d errors\n", cuts, errors);
  EXPECT_EQ(errors, cuts);
}

TEST(ArrowReader, CorruptedBytesGiveDataOrErrorNeverACrash) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  PROSPECT_REQUIRE_FIXTURE(kFile);
  for (const std::string& path : {kStream, kFile}) {
    std::string b = read_file_text(path);
    std::mt19937 rng(11);
    int ok = 0, errors = 0, trials = 0;
    // Every byte of the metadata regions (the first 0x200 bytes and the last 0x200, where schema, batch
    // headers and the footer live) set to each of a few nasty values, plus random positions in the body.
    std::vector<size_t> positions;
    for (size_t i = 0; i < 0x200 && i < b.size(); i++) positions.push_back(i);
    for (size_t i = b.size() > 0x200 ? b.size() - 0x200 : 0; i < b.size(); i++) positions.push_back(i);
    for (int i = 0; i < 300; i++) positions.push_back(rng() % b.size());
    for (size_t pos : positions) {
      for (uint8_t v : {uint8_t(0x00), uint8_t(0xFF), uint8_t(0x7F), uint8_t(0x80), uint8_t(b[pos] ^ 0x10)}) {
        std::string c = b;
        c[pos] = char(v);
        std::string res = read_everything(c, "corrupt");
        trials++;
        if (res == "ok")
          ok++;
        else
          errors++;
      }
    }
    std::printf("%s: %d corrupted copies, %d read (damage in values or padding), %d errors, 0 crashes\n",
                fs::path(path).filename().c_str(), trials, ok, errors);
    EXPECT_GT(errors, 0);
  }
}

TEST(ArrowReader, LyingValueOffsetsAreAnErrorNamingTheRow) {
  std::string path = unique_temp_path("lying.arrow");
  {
    ArrowWriter w(path, {field("frame", 5)}, {});
    w.write_batch({{"AAAA", "BBBB"}});
    w.finish();
  }
  std::string b = read_file_text(path);
  // The body starts after the record batch message; its offsets buffer follows the empty validity buffer at
  // body offset 0, so the three int32 offsets are 0, 4, 8: make the last one point far past the data.
  size_t at = b.find(std::string("\x00\x00\x00\x00\x04\x00\x00\x00\x08\x00\x00\x00", 12));
  ASSERT_NE(at, std::string::npos);
  b[at + 8] = char(0x40);
  b[at + 9] = char(0x42);
  auto r = ArrowReader::open_bytes(b, "lying.arrow");
  EXPECT_EQ(r->value(0, 0), "AAAA");
  try {
    (void)r->value(1, 0);
    ADD_FAILURE() << "no throw";
  } catch (const prospect::Error& e) {
    std::printf("lying offset: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lying.arrow"), std::string::npos) << e.what();
  }
}

TEST(ArrowReader, GarbageAndEmptyInputsAreErrors) {
  EXPECT_THROW(ArrowReader::open_bytes("", "empty"), prospect::Error);
  EXPECT_THROW(ArrowReader::open_bytes("hello world, not arrow", "text"), prospect::Error);
  EXPECT_THROW(ArrowReader::open_bytes(std::string("ARROW1\0\0", 8), "magic-only"), prospect::Error);
  EXPECT_THROW(ArrowReader::open_bytes(std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8), "eos-only"),
               prospect::Error);
}

TEST(Base64, RoundTripAndRejects) {
  std::mt19937 rng(3);
  int checked = 0;
  for (size_t n = 0; n < 64; n++) {
    std::string v(n, '\0');
    for (char& c : v) c = char(rng() & 0xFF);
    std::string enc = prospect::data::base64_encode(v);
    EXPECT_EQ(enc.size() % 4, 0u);
    std::string dec = "prefix";
    ASSERT_TRUE(prospect::data::base64_decode(enc, dec)) << enc;
    EXPECT_EQ(dec, "prefix" + v) << "length " << n;
    checked++;
  }
  std::printf("base64 round trips: %d lengths\n", checked);
  std::string out;
  EXPECT_EQ(prospect::data::base64_encode("hello"), "aGVsbG8=");
  EXPECT_TRUE(prospect::data::base64_decode("aGVsbG8=", out));
  EXPECT_EQ(out, "hello");
  for (const char* bad : {"aGVsbG8", "aGV*bG8=", "a=Vs", "aG=s", "====", "aGVsbG8=aGVs", "aGVs\nbG8="}) {
    std::string o = "keep";
    EXPECT_FALSE(prospect::data::base64_decode(bad, o)) << bad;
    EXPECT_EQ(o, "keep") << "a failed decode leaves the output as it was: " << bad;
  }
}

TEST(ArrowReader, RandomMultiByteDamageToWriterFilesGivesDataOrError) {
  // Several columns of every binary-like type and several batches, so damage can hit any column's buffers.
  std::vector<ArrowField> fields = {field("a", 4), field("frame", 5), field("c", 19), field("d", 20)};
  std::mt19937 rng(5);
  for (bool file_format : {false, true}) {
    std::string path = unique_temp_path(file_format ? "fuzz_file.arrow" : "fuzz_stream.arrow");
    {
      ArrowWriter w(path, fields, {{"huggingface", "{}"}}, file_format);
      for (int b = 0; b < 3; b++) {
        std::vector<std::vector<std::string>> cols(fields.size());
        for (auto& col : cols)
          for (int r = 0; r < 4 + b; r++) col.push_back(std::string(rng() % 40, char('a' + r)));
        w.write_batch(cols);
      }
      w.finish();
    }
    std::string b = read_file_text(path);
    int ok = 0, errors = 0;
    for (int trial = 0; trial < 3000; trial++) {
      std::string c = b;
      int hits = 1 + int(rng() % 4);
      for (int h = 0; h < hits; h++) c[rng() % c.size()] = char(rng() & 0xFF);
      if (read_everything(c, "fuzz") == "ok")
        ok++;
      else
        errors++;
    }
    std::printf("%s (%zu bytes): 3000 damaged copies, %d read, %d errors, 0 crashes\n",
                file_format ? "file format" : "stream", b.size(), ok, errors);
    EXPECT_GT(errors, 0);
  }
}
