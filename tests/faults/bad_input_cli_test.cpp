// A corpus of bad inputs through the real `prospect` command (validate, inspect, tokenize, forward): each
// must give one clear error naming the file (and the clip, turn and field where they apply), exit 1, and
// neither crash nor hang. The parser-level cases live beside the parsers (tests/data, tests/text,
// tests/core, tests/vision); these check that the command line turns them into the same clean failure.
// Under the sanitizer build (scripts/sanitize.sh) the binary run here has ASan and UBSan.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/safetensors.h"
#include "data/arrow_reader.h"
#include "data/arrow_writer.h"
#include "fault_test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using prospect::test::CliResult;
using prospect::test::dst_clip_json;
using prospect::test::run_prospect_limited;
using prospect::test::write_temp_file;

namespace {

// Checks one failed run: exit 1 (not a signal, not a timeout, not an internal error), no sanitizer report,
// and every expected piece in what it printed. Prints each comparison.
void expect_clean_error(const CliResult& r, const std::vector<std::string>& pieces,
                        const std::string& label) {
  const std::string all = r.out + r.err;
  EXPECT_EQ(r.code, 1) << label << ": expected exit 1 (clean error), got " << r.code
                       << (r.code >= 124 ? " (signal or timeout: a crash or a hang)" : "");
  for (const char* bad : {"AddressSanitizer", "runtime error:", "internal error", "terminate called"}) {
    EXPECT_EQ(all.find(bad), std::string::npos) << label << ": output has '" << bad << "'";
  }
  for (const std::string& p : pieces) {
    bool found = all.find(p) != std::string::npos;
    std::cout << "  [" << label << "] expects '" << p << "': " << (found ? "found" : "MISSING") << "\n";
    EXPECT_TRUE(found) << label << ": '" << p << "' not in the output";
  }
}

struct ClipCase {
  std::string name;
  std::string bytes;                // the clip file
  std::vector<std::string> pieces;  // expected in the message, besides the file path
};

std::string dump_clip_with(const std::function<void(json&)>& edit) {
  json c = dst_clip_json();
  edit(c);
  return c.dump();
}

std::vector<ClipCase> bad_clip_corpus() {
  std::vector<ClipCase> v;
  const std::string good = dst_clip_json().dump();
  v.push_back({"malformed_json", "[{\"video_uid\": \"vid0\", \"fps\": 2,, }]", {"JSON"}});
  v.push_back({"truncated_json", good.substr(0, good.size() / 2), {"JSON"}});
  v.push_back({"empty_file", "", {}});
  v.push_back({"not_an_object", "[1, 2, 3]", {"clip 0"}});
  v.push_back({"wrong_type_fps", dump_clip_with([](json& c) { c["fps"] = "two"; }), {"clip 0", "fps"}});
  v.push_back({"wrong_type_content",
               dump_clip_with([](json& c) { c["conversation"][3]["content"] = 42; }),
               {"turn 3", "content"}});
  v.push_back(
      {"missing_conversation", dump_clip_with([](json& c) { c.erase("conversation"); }), {"conversation"}});
  v.push_back({"missing_video_uid", dump_clip_with([](json& c) { c.erase("video_uid"); }), {"video_uid"}});
  v.push_back({"missing_role",
               dump_clip_with([](json& c) { c["conversation"][1].erase("role"); }),
               {"turn 1", "role"}});
  v.push_back({"unknown_role",
               dump_clip_with([](json& c) { c["conversation"][3]["role"] = "narrator"; }),
               {"turn 3", "role", "narrator"}});
  v.push_back({"dst_unknown_step",
               dump_clip_with([](json& c) { c["conversation"][2]["content"][0]["id"] = "S99"; }),
               {"turn 2", "content[0].id", "S99"}});
  v.push_back({"dst_unknown_transition",
               dump_clip_with([](json& c) { c["conversation"][2]["content"][0]["transition"] = "explode"; }),
               {"turn 2", "content[0].transition", "explode"}});
  v.push_back({"dst_content_not_list",
               dump_clip_with([](json& c) { c["conversation"][2]["content"] = "S1->start"; }),
               {"turn 2", "content"}});
  v.push_back({"frame_past_clip_end",
               dump_clip_with([](json& c) {
                 c["conversation"][3]["start_frame"] = 50;
                 c["conversation"][3]["end_frame"] = 51;
               }),
               {"turn 3", "frame"}});
  v.push_back({"negative_end_frame",
               dump_clip_with([](json& c) { c["conversation"][3]["end_frame"] = -3; }),
               {"turn 3", "end_frame"}});
  v.push_back({"negative_start_frame_idx",
               dump_clip_with([](json& c) { c["start_frame_idx"] = -5; }),
               {"start_frame_idx"}});
  v.push_back({"huge_end_frame_idx",
               dump_clip_with([](json& c) { c["end_frame_idx"] = 9223372036854775807LL; }),
               {"end_frame_idx"}});
  v.push_back({"huge_float_end_frame_idx",
               dump_clip_with([](json& c) { c["end_frame_idx"] = 1e300; }),
               {"end_frame_idx"}});
  v.push_back({"negative_fps", dump_clip_with([](json& c) { c["fps"] = -2; }), {"fps"}});
  v.push_back({"huge_time",
               dump_clip_with([](json& c) {
                 c["conversation"][3].erase("start_frame");
                 c["conversation"][3].erase("end_frame");
                 c["conversation"][3]["time"] = 1e300;
               }),
               {"turn 3", "time"}});
  v.push_back({"empty_conversation",
               dump_clip_with([](json& c) { c["conversation"] = json::array(); }),
               {"conversation"}});
  v.push_back({"invalid_utf8", "[{\"video_uid\": \"vid\xff\xfe\", \"conversation\": []}]", {"UTF-8"}});
  v.push_back({"deep_nesting", std::string(100000, '[') + std::string(100000, ']'), {}});
  return v;
}

}  // namespace

TEST(BadInputCli, ValidateNamesFileClipTurnField) {
  int checked = 0;
  for (const ClipCase& c : bad_clip_corpus()) {
    std::string path = write_temp_file(c.name + ".json", c.bytes);
    CliResult r = run_prospect_limited("validate --data '" + path + "'");
    std::vector<std::string> pieces = c.pieces;
    pieces.push_back(path);
    expect_clean_error(r, pieces, "validate " + c.name);
    ++checked;
  }
  std::cout << checked << " bad clip files through `prospect validate`\n";
}

TEST(BadInputCli, InspectNamesFileClipTurnField) {
  std::string tok = prospect::test::tokenizer_path();
  PROSPECT_REQUIRE_FIXTURE(tok);
  int checked = 0;
  for (const ClipCase& c : bad_clip_corpus()) {
    std::string path = write_temp_file(c.name + ".json", c.bytes);
    CliResult r = run_prospect_limited("inspect --data '" + path + "' --tokenizer '" + tok + "'");
    std::vector<std::string> pieces = c.pieces;
    pieces.push_back(path);
    expect_clean_error(r, pieces, "inspect " + c.name);
    ++checked;
  }
  std::cout << checked << " bad clip files through `prospect inspect`\n";
}

namespace {

struct FileCase {
  std::string name;
  std::string bytes;
  std::vector<std::string> pieces;
};

// A loadable minimal tokenizer.json with `edit` applied.
std::string tokenizer_with(const std::function<void(json&)>& edit) {
  json t = {
      {"added_tokens", json::array({{{"id", 3}, {"content", "<end_of_utterance>"}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Digits"}, {"individual_digits", true}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}})}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", json::array({"a b"})}}}};
  edit(t);
  return t.dump();
}

std::vector<FileCase> bad_tokenizer_corpus() {
  return {
      {"empty", "", {}},
      {"malformed", "{\"model\": {\"type\": \"BPE\", \"vocab\": {", {}},
      {"not_an_object", "[1, 2]", {}},
      {"no_model", tokenizer_with([](json& t) { t.erase("model"); }), {"model"}},
      {"wordpiece", tokenizer_with([](json& t) { t["model"]["type"] = "WordPiece"; }), {"WordPiece"}},
      {"vocab_wrong_type",
       tokenizer_with([](json& t) {
         t["model"]["vocab"] = json::array({1, 2});
       }),
       {"vocab"}},
      {"negative_id", tokenizer_with([](json& t) { t["model"]["vocab"]["b"] = -7; }), {"vocab"}},
      {"huge_id", tokenizer_with([](json& t) { t["model"]["vocab"]["b"] = 99999999999LL; }), {"vocab"}},
      {"merge_unknown_token",
       tokenizer_with([](json& t) { t["model"]["merges"] = json::array({"a c"}); }),
       {"merges"}},
      {"added_token_wrong_type",
       tokenizer_with([](json& t) { t["added_tokens"][0]["content"] = 5; }),
       {"added_tokens"}},
      {"invalid_utf8",
       "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xc3\x28\": 0}, \"merges\": []}}",
       {"UTF-8"}},
  };
}

}  // namespace

TEST(BadInputCli, TokenizeAndInspectRejectBadTokenizerJson) {
  std::string clip = write_temp_file("good.json", dst_clip_json().dump());
  int checked = 0;
  for (const FileCase& c : bad_tokenizer_corpus()) {
    std::string path = write_temp_file(c.name + "_tokenizer.json", c.bytes);
    std::vector<std::string> pieces = c.pieces;
    pieces.push_back(path);
    CliResult t = run_prospect_limited("tokenize --tokenizer '" + path + "'", "{\"text\": \"Hello 12\"}\n");
    expect_clean_error(t, pieces, "tokenize " + c.name);
    CliResult i = run_prospect_limited("inspect --data '" + clip + "' --tokenizer '" + path + "'");
    expect_clean_error(i, pieces, "inspect " + c.name);
    checked += 2;
  }
  std::cout << checked << " runs with a bad tokenizer.json\n";
}

TEST(BadInputCli, TokenizeRejectsBadLinesByNumber) {
  std::string tok = prospect::test::tokenizer_path();
  PROSPECT_REQUIRE_FIXTURE(tok);
  struct LineCase {
    std::string name, input;
    std::vector<std::string> pieces;
  };
  std::vector<LineCase> cases = {
      {"invalid_utf8_raw", "{\"text\": \"ok\"}\n{\"text\": \"bad \xff\xfe here\"}\n", {"<stdin>", "line 2"}},
      {"invalid_utf8_truncated_sequence", "{\"text\": \"\xe2\x82\"}\n", {"<stdin>", "line 1"}},
      {"lone_surrogate_escape", "{\"text\": \"\\ud800\"}\n", {"<stdin>", "line 1"}},
      {"text_not_a_string", "{\"text\": 5}\n", {"<stdin>", "line 1", "text"}},
      {"not_json", "hello\n", {"<stdin>", "line 1", "JSON"}},
      {"array_line", "[\"\xff\"]\n", {"<stdin>", "line 1"}},
      {"huge_number", "{\"text\": 1e999999}\n", {"<stdin>", "line 1"}},
  };
  for (const LineCase& c : cases) {
    CliResult r = run_prospect_limited("tokenize --tokenizer '" + tok + "'", c.input);
    expect_clean_error(r, c.pieces, "tokenize " + c.name);
  }
}

namespace {

// A valid Arrow IPC frames file of `rows` tiny rows, for the corruptions below.
std::string arrow_bytes(int rows, bool file_format) {
  std::string path = prospect::test::unique_temp_path("frames.arrow");
  std::vector<prospect::data::ArrowField> fields(2);
  fields[0].name = "frame";
  fields[0].type_id = static_cast<int>(prospect::data::ArrowType::Binary);
  fields[1].name = "timestamp";
  fields[1].type_id = static_cast<int>(prospect::data::ArrowType::Utf8);
  prospect::data::ArrowWriter w(path, fields, {}, file_format);
  std::vector<std::vector<std::string>> cols(2);
  for (int i = 0; i < rows; ++i) {
    cols[0].push_back(std::string(40, static_cast<char>('a' + i % 26)));
    cols[1].push_back(std::to_string(i * 0.5));
  }
  w.write_batch(cols);
  w.finish();
  return prospect::test::read_file_text(path);
}

}  // namespace

TEST(BadInputCli, ValidateFramesRootRejectsCorruptArrow) {
  // The clip needs frames [0, 8) of vid0.arrow; each corruption of that file must be one error naming it.
  const std::string stream = arrow_bytes(8, false), file = arrow_bytes(8, true);
  std::vector<FileCase> cases = {
      {"empty", "", {}},
      {"garbage", "this is not an arrow file at all", {}},
      {"truncated_stream_half", stream.substr(0, stream.size() / 2), {}},
      {"truncated_stream_header", stream.substr(0, 12), {}},
      {"truncated_file_format", file.substr(0, file.size() - 20), {}},
      {"metadata_length_huge",
       [&] {
         std::string s = stream;
         s[4] = s[5] = s[6] = '\x7f';
         return s;
       }(),
       {}},
      {"metadata_length_negative",
       [&] {
         std::string s = stream;
         s[7] = '\x80';
         return s;
       }(),
       {}},
      {"root_table_offset_past_end",
       [&] {
         std::string s = stream;
         s[8] = s[9] = s[10] = '\x7f';
         return s;
       }(),
       {}},
      {"vtable_offset_bad",
       [&] {
         std::string s = stream;
         s[12] ^= 0x55;
         s[13] ^= 0x55;
         return s;
       }(),
       {}},
      {"footer_length_lies",
       [&] {
         std::string s = file;
         s[s.size() - 10] = '\x7f';
         s[s.size() - 9] = '\x7f';
         return s;
       }(),
       {}},
  };
  std::string clip = dst_clip_json("vid0", 8).dump();
  int checked = 0;
  for (const FileCase& c : cases) {
    std::string root = fs::path(prospect::test::unique_temp_path("root")).string();
    fs::create_directories(root);
    std::string data = write_temp_file("clip.json", clip);
    std::ofstream(root + "/vid0.arrow", std::ios::binary) << c.bytes;
    CliResult r = run_prospect_limited("validate --data '" + data + "' --frames-root '" + root + "'");
    std::vector<std::string> pieces = c.pieces;
    pieces.push_back(data);
    pieces.push_back("vid0.arrow");
    expect_clean_error(r, pieces, "validate --frames-root " + c.name);
    ++checked;
  }
  std::cout << checked << " corrupt frames files through `prospect validate --frames-root`\n";
}

namespace {

// A safetensors file whose header is `header` (no padding) followed by `data_bytes` zero bytes.
std::string safetensors_bytes(const std::string& header, size_t data_bytes, uint64_t claimed_len = 0) {
  uint64_t n = claimed_len ? claimed_len : header.size();
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST(BadInputCli, ForwardRejectsLyingSafetensorsAndBrokenModels) {
  if (!prospect::test::has_command("forward"))
    GTEST_SKIP() << "this build has no `prospect forward` (torch-free)";
  const std::string tiny = prospect::test::tiny_model_dir();
  PROSPECT_REQUIRE_FIXTURE(tiny);
  // --inputs files that lie about themselves.
  std::vector<FileCase> inputs = {
      {"empty", "", {}},
      {"header_length_huge", safetensors_bytes("{}", 0, 1ULL << 62), {}},
      {"header_length_past_end", safetensors_bytes("{}", 0, 4096), {}},
      {"header_not_json", safetensors_bytes("{\"input_ids\": ", 16), {}},
      {"offsets_past_end",
       safetensors_bytes(R"({"input_ids":{"dtype":"I64","shape":[1,4],"data_offsets":[0,32]}})", 8),
       {"input_ids"}},
      {"size_not_shape",
       safetensors_bytes(R"({"input_ids":{"dtype":"I64","shape":[1,4],"data_offsets":[0,16]}})", 16),
       {"input_ids"}},
      {"negative_shape",
       safetensors_bytes(R"({"input_ids":{"dtype":"I64","shape":[-1,4],"data_offsets":[0,32]}})", 32),
       {"input_ids"}},
      {"huge_shape",
       safetensors_bytes(
           R"({"input_ids":{"dtype":"I64","shape":[4611686018427387904,4],"data_offsets":[0,32]}})", 32),
       {"input_ids"}},
      {"unknown_dtype",
       safetensors_bytes(R"({"input_ids":{"dtype":"Q4","shape":[1,4],"data_offsets":[0,32]}})", 32),
       {"input_ids"}},
      {"overlapping",
       safetensors_bytes(
           R"({"a":{"dtype":"I64","shape":[1,4],"data_offsets":[0,32]},"input_ids":{"dtype":"I64","shape":[1,4],"data_offsets":[16,48]}})",
           48),
       {}},
      {"missing_input_ids",
       safetensors_bytes(R"({"other":{"dtype":"I64","shape":[1,4],"data_offsets":[0,32]}})", 32),
       {"input_ids"}},
  };
  for (const FileCase& c : inputs) {
    std::string path = write_temp_file(c.name + ".safetensors", c.bytes);
    std::string out = prospect::test::unique_temp_path("out.safetensors");
    CliResult r = run_prospect_limited("forward --threads 1 --model '" + tiny + "' --inputs '" + path +
                                       "' --out '" + out + "'");
    std::vector<std::string> pieces = c.pieces;
    pieces.push_back(path);
    expect_clean_error(r, pieces, "forward --inputs " + c.name);
  }
  // Broken model directories: a copy of the tiny fixture with one file damaged.
  std::string good_inputs = prospect::test::unique_temp_path("inputs.safetensors");
  {
    std::vector<int64_t> ids = {1, 2, 3, 4};
    prospect::safetensors::write_file(
        good_inputs, {{"input_ids", prospect::safetensors::DType::I64, {1, 4}, ids.data(), 32}});
  }
  struct ModelCase {
    std::string name, file, bytes;  // bytes empty with truncate=true: cut the file in half
    bool truncate = false;
  };
  std::vector<ModelCase> models = {
      {"truncated_weights", "model.safetensors", "", true},
      {"weights_header_lies", "model.safetensors", safetensors_bytes("{}", 0, 1ULL << 40), false},
      {"config_malformed", "config.json", "{\"text_config\": {", false},
      {"config_wrong_type", "config.json", "{\"text_config\": {\"hidden_size\": \"wide\"}}", false},
  };
  for (const ModelCase& m : models) {
    std::string dir = prospect::test::unique_temp_path("model");
    fs::copy(tiny, dir, fs::copy_options::recursive);
    std::string target = dir + "/" + m.file;
    std::string bytes = m.truncate ? prospect::test::read_file_text(target) : m.bytes;
    if (m.truncate) bytes = bytes.substr(0, bytes.size() / 2);
    fs::permissions(target, fs::perms::owner_write, fs::perm_options::add);
    std::ofstream(target, std::ios::binary | std::ios::trunc) << bytes;
    std::string out = prospect::test::unique_temp_path("out.safetensors");
    CliResult r = run_prospect_limited("forward --threads 1 --model '" + dir + "' --inputs '" + good_inputs +
                                       "' --out '" + out + "'");
    expect_clean_error(r, {m.file}, "forward --model " + m.name);
  }
}
