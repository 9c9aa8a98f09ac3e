// The Llama 3 Split scanner on hand-picked cases, one group per alternative of the pattern, and what the
// loader does with Split pre-tokenizers, ignore_merges, TemplateProcessing and single_word added tokens.
// The expected splits are what `tokenizers` 0.23 gives (pre_tokenizers.Split(Regex(...), "isolated")); the
// live check tests/peers/check_llama3_tokenizer.py compares thousands of generated strings.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "fixtures.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

using prospect::text::Offset;
using prospect::text::SplitRegex;
using prospect::text::Tokenizer;

namespace {

std::vector<std::string> split(std::string_view s, SplitRegex r = SplitRegex::kLlama3) {
  std::vector<uint32_t> ends;
  prospect::text::split_known(r, s, ends);
  std::vector<std::string> out;
  uint32_t start = 0;
  for (uint32_t e : ends) {
    out.emplace_back(s.substr(start, e - start));
    start = e;
  }
  return out;
}

using V = std::vector<std::string>;

// A Llama 3 shaped tokenizer.json over a byte alphabet of a few letters (every byte is not needed: missing
// bytes are dropped, which the tests avoid).
nlohmann::json llama3_tokenizer(const std::string& pattern) {
  nlohmann::json vocab = {{"a", 0},    {"b", 1},  {"c", 2},  {"Ġ", 3},  {"ab", 4}, {"abc", 5}, {"'", 6},
                          {"s", 7},    {"1", 8},  {"2", 9},  {"3", 10}, {"Ċ", 11}, {"S", 12},  {"ca", 13},
                          {"cab", 14}, {"w", 15}, {"o", 16}, {"r", 17}, {"d", 18}, {"t", 19},  {"k", 20}};
  nlohmann::json added = nlohmann::json::array();
  added.push_back({{"id", 30}, {"content", "<|begin_of_text|>"}, {"special", true}, {"normalized", false}});
  added.push_back({{"id", 31}, {"content", "<|eot_id|>"}, {"special", true}, {"normalized", false}});
  added.push_back(
      {{"id", 32}, {"content", "wordtok"}, {"special", false}, {"normalized", false}, {"single_word", true}});
  nlohmann::json tmpl = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", nlohmann::json::array()},
      {"special_tokens",
       {{"<|begin_of_text|>",
         {{"id", "<|begin_of_text|>"}, {"ids", {30}}, {"tokens", {"<|begin_of_text|>"}}}}}}};
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", true},
           {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors",
         {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
          tmpl}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      // "cab" is in the vocabulary but no merge builds it: only ignore_merges gives it as one token.
      {"model",
       {{"type", "BPE"},
        {"ignore_merges", true},
        {"vocab", vocab},
        {"merges", {"a b", {"ab", "c"}, "c a"}}}}};
}

const std::string kLlama3 = prospect::text::split_regex_pattern(SplitRegex::kLlama3);

template <typename F>
void expect_error(F f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a prospect::Error containing '" << parts[0] << "'";
  } catch (const prospect::Error& e) {
    std::string msg = e.what();
    std::cout << "error: " << msg << "\n";
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
  }
}

}  // namespace

TEST(Llama3Split, KnownPatternsAreRecognisedExactly) {
  EXPECT_EQ(
      prospect::text::split_regex_for(
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
      SplitRegex::kLlama3);
  EXPECT_EQ(
      prospect::text::split_regex_for(
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
      SplitRegex::kQwen2);
  EXPECT_EQ(prospect::text::split_regex_for(
                R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"),
            SplitRegex::kGpt2);
  // One character off is unknown, not "close enough".
  std::string off = kLlama3;
  off.replace(off.find("{1,3}"), 5, "{1,4}");
  EXPECT_EQ(prospect::text::split_regex_for(off), SplitRegex::kNone);
  EXPECT_EQ(prospect::text::split_regex_for(""), SplitRegex::kNone);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d): any case, first alternative wins even inside a word; U+017F folds to 's'.
TEST(Llama3Split, ContractionsCaseInsensitive) {
  EXPECT_EQ(split("DON'T 'Ll 'RE 'vE"), (V{"DON", "'T", " '", "Ll", " '", "RE", " '", "vE"}));
  EXPECT_EQ(split("ab'S'sx"), (V{"ab", "'S", "'s", "x"}));
  EXPECT_EQ(split("we'VE it'd I'M"), (V{"we", "'VE", " it", "'d", " I", "'M"}));
  EXPECT_EQ(split("'\xC5\xBFt"), (V{"'\xC5\xBF", "t"}));  // 'ſ then t
  EXPECT_EQ(split("'K"), (V{"'K"}));                      // not a contraction: ' before a letter run
  EXPECT_EQ(split("'x"), (V{"'x"}));
  EXPECT_EQ(split("'"), (V{"'"}));
}

// [^\r\n\p{L}\p{N}]?\p{L}+ : a letter run with at most one non-letter, non-number, non-newline before it.
TEST(Llama3Split, LetterRunsWithOnePrefix) {
  EXPECT_EQ(split("hello world"), (V{"hello", " world"}));
  EXPECT_EQ(split(" \tabc"), (V{" ", "\tabc"}));
  EXPECT_EQ(split("$abc.def"), (V{"$abc", ".def"}));
  EXPECT_EQ(split("\nabc"), (V{"\n", "abc"}));  // a newline is not a prefix
  EXPECT_EQ(split("x \xC2\xA0y"), (V{"x", " ", "\xC2\xA0y"}));
  EXPECT_EQ(split("\xCC\x81"
                  "abc"),
            (V{"\xCC\x81"
               "abc"}));  // a combining mark as the prefix
  EXPECT_EQ(split("日本語のテキスト"), (V{"日本語のテキスト"}));
}

// \p{N}{1,3}: runs of numbers in threes, any script, no space prefix.
TEST(Llama3Split, NumbersInThrees) {
  EXPECT_EQ(split("12345678"), (V{"123", "456", "78"}));
  EXPECT_EQ(split("a 1234"), (V{"a", " ", "123", "4"}));
  EXPECT_EQ(split("٣٤٥٦٧"), (V{"٣٤٥", "٦٧"}));
  EXPECT_EQ(split("x²³¹⁰"), (V{"x", "²³¹", "⁰"}));
  EXPECT_EQ(split("12345", SplitRegex::kQwen2), (V{"1", "2", "3", "4", "5"}));
}

// ` ?[^\s\p{L}\p{N}]+[\r\n]*`: symbols with an optional space, taking the newlines after them.
TEST(Llama3Split, PunctuationWithTrailingNewlines) {
  EXPECT_EQ(split("!!\r\n\r\nx"), (V{"!!\r\n\r\n", "x"}));
  EXPECT_EQ(split("a ...\n b"), (V{"a", " ...\n", " b"}));
  EXPECT_EQ(split("a -> b"), (V{"a", " ->", " b"}));
  EXPECT_EQ(split("😀🚀 x"), (V{"😀🚀", " x"}));
  EXPECT_EQ(split("a\t-"), (V{"a", "\t", "-"}));  // only a plain space may precede
}

// \s*[\r\n]+ : whitespace up to and including the last newline of the run.
TEST(Llama3Split, WhitespaceEndingInNewlines) {
  EXPECT_EQ(split("a\n\n  c"), (V{"a", "\n\n", " ", " c"}));
  EXPECT_EQ(split("a  \t\n b"), (V{"a", "  \t\n", " b"}));
  EXPECT_EQ(split("x\r\ny"), (V{"x", "\r\n", "y"}));
  EXPECT_EQ(split("\t\nabc"), (V{"\t\n", "abc"}));
  EXPECT_EQ(split("a \n \n  "), (V{"a", " \n \n", "  "}));
}

// \s+(?!\S) then \s+: a run before a non-space leaves its last character to the next piece; at the end it
// is whole; a single space before a non-letter, non-symbol is \s+.
TEST(Llama3Split, WhitespaceRuns) {
  EXPECT_EQ(split("a  \t b"), (V{"a", "  \t", " b"}));
  EXPECT_EQ(split("a   "), (V{"a", "   "}));
  EXPECT_EQ(split("a   1"), (V{"a", "  ", " ", "1"}));
  EXPECT_EQ(split("a 1"), (V{"a", " ", "1"}));
  EXPECT_EQ(split("   "), (V{"   "}));
}

TEST(Llama3Split, EveryByteIsCovered) {
  std::string s = "It's 2024!\r\n\tÜber 日本 😀  done  \n";
  std::vector<uint32_t> ends;
  prospect::text::split_llama3(s, ends);
  ASSERT_FALSE(ends.empty());
  EXPECT_EQ(ends.back(), s.size());
  for (size_t i = 1; i < ends.size(); ++i) EXPECT_LT(ends[i - 1], ends[i]);
}

TEST(Llama3Tokenizer, EncodesWithSplitIgnoreMergesAndTemplate) {
  Tokenizer tok = Tokenizer::from_json(llama3_tokenizer(kLlama3).dump(), "llama3.json");
  std::vector<Offset> off;
  // "cab" is one token only through ignore_merges (merges alone give "ca" + "b").
  EXPECT_EQ(tok.encode("cab", &off), (std::vector<int32_t>{14}));
  EXPECT_EQ(tok.encode("abc's", &off), (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(off, (std::vector<Offset>{{0, 3}, {3, 4}, {4, 5}}));
  // Added tokens before the split; the template's BOS only when asked for, with offsets (0, 0).
  EXPECT_EQ(tok.encode("<|eot_id|>ab", &off), (std::vector<int32_t>{31, 4}));
  EXPECT_EQ(tok.encode("ab", &off, true), (std::vector<int32_t>{30, 4}));
  EXPECT_EQ(off, (std::vector<Offset>{{0, 0}, {0, 2}}));
  EXPECT_EQ(tok.encode("ab", &off, false), (std::vector<int32_t>{4}));
  EXPECT_EQ(tok.template_prefix(), (std::vector<int32_t>{30}));
  EXPECT_TRUE(tok.template_suffix().empty());
  EXPECT_EQ(tok.decode(tok.encode("ab cab", nullptr, true)), "<|begin_of_text|>ab cab");
  EXPECT_EQ(tok.decode(tok.encode("ab cab", nullptr, true), true), "ab cab");
}

// single_word: no regex \w next to the match (a combining mark counts as a word character, ² does not).
TEST(Llama3Tokenizer, SingleWordUsesRegexWordCharacters) {
  Tokenizer tok = Tokenizer::from_json(llama3_tokenizer(kLlama3).dump(), "llama3.json");
  EXPECT_EQ(tok.encode("wordtok"), (std::vector<int32_t>{32}));
  EXPECT_EQ(tok.encode("a wordtok"), (std::vector<int32_t>{0, 3, 32}));
  EXPECT_NE(tok.encode("awordtok").back(), 32);
  EXPECT_NE(tok.encode("\xCC\x81wordtok").back(), 32);   // U+0301 before
  EXPECT_EQ(tok.encode("wordtok\xC2\xB2").front(), 32);  // U+00B2 after (No, not \w)
  EXPECT_NE(tok.encode("wordtok_").front(), 32);
  EXPECT_TRUE(prospect::text::is_regex_word(0x301));
  EXPECT_TRUE(prospect::text::is_regex_word(0x24B6));  // circled A: Other_Alphabetic
  EXPECT_TRUE(prospect::text::is_regex_word(0x200D));
  EXPECT_FALSE(prospect::text::is_regex_word(0xB2));
  EXPECT_FALSE(prospect::text::is_regex_word(' '));
}

TEST(Llama3TokenizerErrors, UnknownSplitPatternNamesFileAndPattern) {
  std::string off = kLlama3;
  off.replace(off.find("{1,3}"), 5, "{1,4}");
  expect_error([&] { Tokenizer::from_json(llama3_tokenizer(off).dump(), "models/llama/tokenizer.json"); },
               {"models/llama/tokenizer.json", "pre_tokenizer.pretokenizers[0].pattern.Regex",
                "\\\\p{N}{1,4}", "is not supported"});
  nlohmann::json j = llama3_tokenizer(kLlama3);
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"String", " "}};
  expect_error([&] { Tokenizer::from_json(j.dump(), "t.json"); },
               {"t.json", "{\"String\":\" \"}", "not supported"});
  j = llama3_tokenizer(kLlama3);
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithPrevious";
  expect_error([&] { Tokenizer::from_json(j.dump(), "t.json"); }, {"behavior", "MergedWithPrevious"});
  j = llama3_tokenizer(kLlama3);
  j["pre_tokenizer"]["pretokenizers"][0]["invert"] = true;
  expect_error([&] { Tokenizer::from_json(j.dump(), "t.json"); }, {"invert"});
  j = llama3_tokenizer(kLlama3);
  j["post_processor"]["processors"][1]["single"] = {{{"SpecialToken", {{"id", "<nope>"}, {"type_id", 0}}}},
                                                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}};
  expect_error([&] { Tokenizer::from_json(j.dump(), "t.json"); }, {"t.json", "<nope>"});
}
