// `prospect tokenize` end to end: JSON lines in, one JSON line out per input with the same ids and offsets
// as the library; a bad input line is an error naming its line number.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fixtures.h"
#include "text/tokenizer.h"

using prospect::test::tokenizer_path;

namespace {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

// Runs `prospect tokenize` on `input` through temporary files.
CliRun run_tokenize(const std::string& input, const std::string& extra) {
  namespace fs = std::filesystem;
  fs::path dir = prospect::test::fresh_dir("tok_cli");
  fs::path in = dir / "in.jsonl", out = dir / "out.jsonl", err = dir / "err.txt";
  std::ofstream(in, std::ios::binary) << input;
  std::string cmd = std::string(PROSPECT_BINARY) + " tokenize --tokenizer '" + tokenizer_path() + "' " +
                    extra + " < '" + in.string() + "' > '" + out.string() + "' 2> '" + err.string() + "'";
  int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = prospect::test::read_file_text(out.string());
  r.err = prospect::test::read_file_text(err.string());
  fs::remove_all(dir);
  return r;
}

}  // namespace

TEST(TokenizeCli, WritesIdsAndOffsetsPerLine) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  std::vector<std::string> texts = {"Assistant: DST_UPDATE: S1->complete<end_of_utterance>\n", "",
                                    "naïve café 東京 😀", "<image><image>text"};
  std::string input;
  for (const auto& t : texts) input += nlohmann::json({{"text", t}}).dump() + "\n";
  CliRun r = run_tokenize(input, "--offsets");
  ASSERT_EQ(r.code, 0) << r.err;
  prospect::text::Tokenizer tok = prospect::text::Tokenizer::load(tokenizer_path());
  std::istringstream lines(r.out);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(n, texts.size()) << "more output lines than inputs";
    auto j = nlohmann::json::parse(line);
    std::vector<prospect::text::Offset> offs;
    auto ids = tok.encode(texts[n], &offs);
    EXPECT_EQ(j["ids"].get<std::vector<int32_t>>(), ids) << "line " << n + 1;
    std::vector<prospect::text::Offset> got;
    for (const auto& o : j["offsets"]) got.emplace_back(o[0].get<int32_t>(), o[1].get<int32_t>());
    EXPECT_EQ(got, offs) << "line " << n + 1;
    ++n;
  }
  std::cout << n << "/" << texts.size() << " output lines match the library\n";
  EXPECT_EQ(n, texts.size());

  CliRun plain = run_tokenize(input, "");
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("offsets"), std::string::npos);
}

TEST(TokenizeCli, BadLineNamesLineNumber) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  struct Case {
    std::string input;
    std::string want;
  } cases[] = {
      {"{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n", "line 2"},
      {"{\"text\": \"ok\"}\n{\"text\": \"ok\"}\nnot json\n", "line 3"},
      {"{\"text\": 5}\n", "line 1"},
      {"{\"text\": \"a\"}\n\n", "line 2"},
      {std::string("{\"text\": \"bad \xC3( utf8\"}\n"), "line 1"},
  };
  for (const auto& c : cases) {
    CliRun r = run_tokenize(c.input, "");
    std::cout << "exit " << r.code << ", stderr: " << r.err;
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("prospect: error:"), std::string::npos) << r.err;
  }
}
