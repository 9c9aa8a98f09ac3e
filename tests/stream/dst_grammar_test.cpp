// The DST body grammar: which texts are prefixes of a valid update from a given state, which are whole
// updates, the items they close, cutting a body back to its last whole item, and the token filter on the
// tiny fixture's tokenizer (every allowed token keeps the body viable; every other printable token does not).
#include "stream/dst_grammar.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "stream_test_util.h"
#include "text/tokenizer.h"

using namespace prospect;
using stream::DstGrammar;
using stream::GrammarStatus;

namespace {

const char* status_name(GrammarStatus s) {
  return s == GrammarStatus::Invalid ? "Invalid" : s == GrammarStatus::Partial ? "Partial" : "Complete";
}

// S1 in progress, S2 not started, S10 completed.
data::TaskState sample_state() {
  data::TaskState st({"S1", "S2", "S10"});
  st.set("S1", data::StepState::InProgress);
  st.set("S10", data::StepState::Completed);
  return st;
}

}  // namespace

TEST(DstGrammar, PrefixesAndWholeUpdates) {
  DstGrammar g(sample_state());
  struct Case {
    const char* body;
    GrammarStatus want;
  } cases[] = {
      {"", GrammarStatus::Partial},
      {" ", GrammarStatus::Partial},
      {"S1->complete", GrammarStatus::Invalid},  // the leading space is part of the body
      {" S", GrammarStatus::Partial},
      {" S1->comp", GrammarStatus::Partial},
      {" S1->complete", GrammarStatus::Complete},
      {" S1->start", GrammarStatus::Invalid},  // S1 is already in progress
      {" S1->st", GrammarStatus::Invalid},
      {" S1->complete,", GrammarStatus::Partial},
      {" S1->complete, ", GrammarStatus::Partial},
      {" S1->complete, S2->start", GrammarStatus::Complete},
      {" S1->complete,S2->start", GrammarStatus::Invalid},      // separator is ", "
      {" S1->complete, S1->complete", GrammarStatus::Invalid},  // applied in order: S1 is completed by then
      {" S1->complete, S1->reset", GrammarStatus::Complete},
      {" S10->reset", GrammarStatus::Complete},
      {" S10->complete", GrammarStatus::Invalid},
      {" S3->start", GrammarStatus::Invalid},  // no such step
      {" S1->complete ", GrammarStatus::Invalid},
  };
  for (const Case& c : cases) {
    GrammarStatus got = g.check(c.body);
    std::printf("  '%s' -> %s (want %s)\n", c.body, status_name(got), status_name(c.want));
    EXPECT_EQ(got, c.want) << "body '" << c.body << "'";
  }
  std::vector<data::DstItem> items = g.items(" S1->complete, S2->start");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(data::format_dst_items(items), "S1->complete, S2->start");
  EXPECT_EQ(g.complete_prefix(" S1->complete, S2->st"), " S1->complete");
  EXPECT_EQ(g.complete_prefix(" S1->complete, S2->start"), " S1->complete, S2->start");
  EXPECT_EQ(g.complete_prefix(" S1->comp"), "");
  EXPECT_TRUE(g.any_valid());
  EXPECT_FALSE(DstGrammar(data::TaskState()).any_valid());
}

namespace {

// Checks filter.allowed() against the brute force (every token of the vocabulary appended and re-parsed).
void expect_filter_matches_brute_force(const std::string& tok_path) {
  text::Tokenizer tok = text::Tokenizer::load(tok_path);
  int32_t eou = tok.token_to_id("<end_of_utterance>");
  stream::DstTokenFilter filter(tok, eou);
  DstGrammar g(sample_state());
  for (std::string body : {"", " ", " S1->", " S1->complete", " S1->complete,", " S1->complete, ",
                           " S1->complete, S", " S10->reset, S1"}) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> allowed = filter.allowed(g, body);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<bool> is_allowed(static_cast<size_t>(tok.vocab_size()), false);
    for (int32_t id : allowed) is_allowed[static_cast<size_t>(id)] = true;
    int64_t viable = 0;
    std::string examples;
    for (int32_t id = 0; id < tok.vocab_size(); ++id) {
      if (tok.is_special(id)) continue;
      std::string probe = body + std::string(tok.id_to_bytes(id));
      bool ok = !tok.id_to_bytes(id).empty() && g.check(probe) != GrammarStatus::Invalid;
      viable += ok;
      if (ok && examples.size() < 60) examples += " '" + std::string(tok.id_to_bytes(id)) + "'";
      EXPECT_EQ(is_allowed[static_cast<size_t>(id)], ok)
          << "body '" << body << "' token " << id << " '" << tok.id_to_bytes(id) << "'";
    }
    bool eou_ok = g.check(body) == GrammarStatus::Complete;
    EXPECT_EQ(is_allowed[static_cast<size_t>(eou)], eou_ok) << "body '" << body << "'";
    std::printf("  body '%s': %zu allowed in %.2f ms (%lld viable text tokens%s; <end_of_utterance> %s)\n",
                body.c_str(), allowed.size(), ms, static_cast<long long>(viable), examples.c_str(),
                eou_ok ? "allowed" : "not allowed");
    EXPECT_FALSE(allowed.empty());
  }
}

}  // namespace

TEST(DstTokenFilter, AllowedTokensAreExactlyTheViableOnesTinyVocabulary) {
  std::string tok_path = test::tiny_model_dir() + "/tokenizer.json";
  PROSPECT_REQUIRE_FIXTURE(tok_path);
  expect_filter_matches_brute_force(tok_path);
}

TEST(DstTokenFilter, AllowedTokensAreExactlyTheViableOnesSmolVLM2Vocabulary) {
  std::string tok_path = test::tokenizer_path();
  PROSPECT_REQUIRE_FIXTURE(tok_path);
  expect_filter_matches_brute_force(tok_path);
}
