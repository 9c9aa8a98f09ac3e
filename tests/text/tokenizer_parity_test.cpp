// Parity of our tokenizer with HF `tokenizers` (the venv's, run live by tests/peers/make_test_inputs.py):
// every case's ids, code-point offsets and decoded text, for the SmolVLM2 tokenizer and the tiny test
// tokenizer. Prints the counts and, on a mismatch, the case with the expected and produced ids.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fixtures.h"
#include "text/tokenizer.h"

using prospect::text::Offset;
using prospect::text::Tokenizer;

namespace {

std::string show_ids(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

std::string show_offsets(const std::vector<Offset>& offs) {
  std::string s = "[";
  for (size_t i = 0; i < offs.size(); ++i) {
    s += (i ? ", [" : "[") + std::to_string(offs[i].first) + ", " + std::to_string(offs[i].second) + "]";
  }
  return s + "]";
}

// Runs every case; returns the number of failures and prints counts.
void check_cases(const Tokenizer& tok, const nlohmann::json& cases, const std::string& name) {
  int n = 0, ids_ok = 0, offs_ok = 0, dec_ok = 0;
  for (const auto& c : cases) {
    ++n;
    const std::string text = c["text"].get<std::string>();
    auto want_ids = c["ids"].get<std::vector<int32_t>>();
    std::vector<Offset> want_offs;
    for (const auto& o : c["offsets"]) want_offs.emplace_back(o[0].get<int32_t>(), o[1].get<int32_t>());
    const std::string want_dec = c["decoded"].get<std::string>();

    std::vector<Offset> offs;
    std::vector<int32_t> ids = tok.encode(text, &offs);
    std::string dec = tok.decode(want_ids);
    std::string shown = nlohmann::json(text).dump().substr(0, 160);
    if (ids == want_ids) {
      ++ids_ok;
    } else {
      ADD_FAILURE() << name << " case " << n - 1 << " " << shown << "\n  expected ids " << show_ids(want_ids)
                    << "\n  produced ids " << show_ids(ids);
    }
    if (offs == want_offs) {
      ++offs_ok;
    } else {
      ADD_FAILURE() << name << " case " << n - 1 << " " << shown << "\n  expected offsets "
                    << show_offsets(want_offs) << "\n  produced offsets " << show_offsets(offs);
    }
    if (dec == want_dec) {
      ++dec_ok;
    } else {
      ADD_FAILURE() << name << " case " << n - 1 << " " << shown << "\n  expected decoded "
                    << nlohmann::json(want_dec).dump() << "\n  produced decoded "
                    << nlohmann::json(dec).dump();
    }
  }
  std::cout << name << ": ids " << ids_ok << "/" << n << ", offsets " << offs_ok << "/" << n << ", decoded "
            << dec_ok << "/" << n << "\n";
  EXPECT_GT(n, 0);
}

}  // namespace

TEST(TokenizerParity, SmolVLM2Cases) {
  std::string tok_path = prospect::test::tokenizer_path();
  std::string cases_path = prospect::test::shared_path("fixtures/smolvlm2-tokenizer/cases.json");
  PROSPECT_REQUIRE_FIXTURE(tok_path);
  PROSPECT_REQUIRE_FIXTURE(cases_path);
  Tokenizer tok = Tokenizer::load(tok_path);
  EXPECT_EQ(tok.vocab_size(), 49280);
  check_cases(tok, prospect::test::read_json(cases_path)["cases"], "smolvlm2-tokenizer/cases.json");
}

TEST(TokenizerParity, TinyCases) {
  std::string tok_path = prospect::test::tiny_model_dir() + "/tokenizer.json";
  std::string cases_path = prospect::test::tiny_fixture_dir() + "/tokenizer_cases.json";
  PROSPECT_REQUIRE_FIXTURE(tok_path);
  PROSPECT_REQUIRE_FIXTURE(cases_path);
  // The generator trains this tokenizer live; tiny_meta.json holds what `tokenizers` reported for it.
  std::string meta_path = prospect::test::tiny_fixture_dir() + "/tiny_meta.json";
  PROSPECT_REQUIRE_FIXTURE(meta_path);
  const nlohmann::json meta = prospect::test::read_json(meta_path)["tokenizer"];
  Tokenizer tok = Tokenizer::load(tok_path);
  EXPECT_EQ(tok.vocab_size(), meta["vocab_size"].get<int64_t>());
  EXPECT_EQ(tok.token_to_id("<image>"), meta["image_token_id"].get<int64_t>());
  EXPECT_EQ(tok.token_to_id("<end_of_utterance>"), meta["end_of_utterance_id"].get<int64_t>());
  check_cases(tok, prospect::test::read_json(cases_path), "hf-smolvlm-tiny/tokenizer_cases.json");
}

TEST(TokenizerParity, SmolVLM2TokenIds) {
  std::string tok_path = prospect::test::tokenizer_path();
  PROSPECT_REQUIRE_FIXTURE(tok_path);
  Tokenizer tok = Tokenizer::load(tok_path);
  // The ids the fixture README names.
  struct Named {
    const char* token;
    int32_t id;
  } named[] = {{"<global-img>", 49152},  {"<row_1_col_1>", 49153},
               {"<row_6_col_6>", 49188}, {"<fake_token_around_image>", 49189},
               {"<image>", 49190},       {"<end_of_utterance>", 49279},
               {"<|im_end|>", 2},        {"Ġthe", 260}};
  for (const auto& n : named) {
    EXPECT_EQ(tok.token_to_id(n.token), n.id) << n.token;
    EXPECT_EQ(tok.id_to_token(n.id), n.token) << n.id;
  }
  EXPECT_EQ(tok.token_to_id("not-a-token-at-all"), -1);
  EXPECT_EQ(tok.id_to_token(-1), "");
  EXPECT_EQ(tok.id_to_token(49280), "");
  EXPECT_TRUE(tok.is_special(49190));
  EXPECT_FALSE(tok.is_special(260));
}
