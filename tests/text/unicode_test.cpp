// The pieces under the tokenizer: code-point classes from the generated table, UTF-8 validation and lossy
// repair (Rust's rules), the GPT-2 split rules and the byte-level alphabet.
#include "text/unicode.h"

#include <gtest/gtest.h>

#include "text/pretokenizer.h"

using namespace prospect::text;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<uint32_t> ends;
  split_gpt2(s, ends);
  std::vector<std::string> out;
  uint32_t b = 0;
  for (uint32_t e : ends) {
    out.push_back(s.substr(b, e - b));
    b = e;
  }
  return out;
}

std::string show(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "[" + x + "]";
  return s;
}

}  // namespace

TEST(Unicode, CodepointClasses) {
  std::cout << "table: Unicode " << kUnicodeVersion << ", " << kCodepointRangeCount << " ranges\n";
  struct Case {
    uint32_t cp;
    CodepointClass cls;
  } cases[] = {
      {'a', CodepointClass::kLetter},     {'Z', CodepointClass::kLetter},
      {'7', CodepointClass::kNumber},     {' ', CodepointClass::kSpace},
      {'\t', CodepointClass::kSpace},     {'\n', CodepointClass::kSpace},
      {0x0B, CodepointClass::kSpace},     {0x1C, CodepointClass::kOther},
      {0x85, CodepointClass::kSpace},     {0xA0, CodepointClass::kSpace},
      {0x2003, CodepointClass::kSpace},   {0x3000, CodepointClass::kSpace},
      {0x2028, CodepointClass::kSpace},   {0x200B, CodepointClass::kOther},
      {'_', CodepointClass::kOther},      {'-', CodepointClass::kOther},
      {0xE9, CodepointClass::kLetter},    {0x6771, CodepointClass::kLetter},
      {0x0663, CodepointClass::kNumber},  {0x2154, CodepointClass::kNumber},
      {0x2460, CodepointClass::kNumber},  {0xB2, CodepointClass::kNumber},
      {0x301, CodepointClass::kOther},    {0x1F600, CodepointClass::kOther},
      {0x10FFFF, CodepointClass::kOther}, {0x2F800, CodepointClass::kLetter},
  };
  int ok = 0;
  for (const auto& c : cases) {
    CodepointClass got = codepoint_class(c.cp);
    EXPECT_EQ(static_cast<int>(got), static_cast<int>(c.cls)) << "U+" << std::hex << c.cp;
    ok += got == c.cls;
  }
  std::cout << ok << "/" << sizeof(cases) / sizeof(cases[0]) << " classes as expected\n";
}

TEST(Unicode, Utf8ValidationAndLossy) {
  EXPECT_EQ(utf8_first_invalid("plain ascii"), -1);
  EXPECT_EQ(utf8_first_invalid("na\xC3\xAFve \xF0\x9F\x98\x80"), -1);
  EXPECT_EQ(utf8_first_invalid("ab\xC0\xAF"), 2);         // overlong
  EXPECT_EQ(utf8_first_invalid("\xED\xA0\x80"), 0);       // surrogate
  EXPECT_EQ(utf8_first_invalid("x\xF4\x90\x80\x80"), 1);  // past U+10FFFF
  EXPECT_EQ(utf8_first_invalid("ok\xE2\x82"), 2);         // cut off
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  } cases[] = {
      {"abc", "abc"},
      {"\xF0\x9F\x98", fffd},  // one maximal subpart
      {"\xF0\x9F\x98"
       "A",
       fffd + "A"},
      {"\xED\xA0\x80", fffd + fffd + fffd},  // surrogate: each byte on its own
      {"\xC0\xAF", fffd + fffd},             // C0 is never a lead
      {"\xE2\x82"
       "\xE2\x82\xAC",
       fffd + "\xE2\x82\xAC"},  // cut-off euro then a whole one
      {"\xFF\xFE", fffd + fffd},
  };
  for (const auto& c : cases) EXPECT_EQ(utf8_lossy(c.in), c.out) << "input of " << c.in.size() << " bytes";
  EXPECT_EQ(utf8_incomplete_tail("ab"), 0);
  EXPECT_EQ(utf8_incomplete_tail("ab\xF0\x9F"), 2);
  EXPECT_EQ(utf8_incomplete_tail("ab\xF0\x9F\x98"), 3);
  EXPECT_EQ(utf8_incomplete_tail("ab\xF0\x9F\x98\x80"), 0);
  EXPECT_EQ(utf8_incomplete_tail("ab\xE2"), 1);
  EXPECT_EQ(utf8_incomplete_tail("ab\xFF"), 0);    // invalid, not incomplete
  EXPECT_EQ(utf8_incomplete_tail("\xE0\x80"), 0);  // E0 80 can never become valid
}

TEST(Unicode, Gpt2SplitRules) {
  struct Case {
    std::string in;
    std::vector<std::string> want;
  } cases[] = {
      {"Hello world", {"Hello", " world"}},
      {"Hello  world", {"Hello", " ", " world"}},
      {"x  \n  y", {"x", "  \n ", " y"}},
      {"trailing   ", {"trailing", "   "}},
      {"a\tb", {"a", "\t", "b"}},
      {"a\t\tb", {"a", "\t", "\t", "b"}},
      {"don't DON'T", {"don", "'t", " DON", "'", "T"}},
      {"we're I'll it's", {"we", "'re", " I", "'ll", " it", "'s"}},
      {"a, b!!", {"a", ",", " b", "!!"}},
      {"x ,y", {"x", " ,", "y"}},
      {"caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC", {"caf\xC3\xA9", " \xE6\x9D\xB1\xE4\xBA\xAC"}},
      {"\xC2\xA0nbsp", {"\xC2\xA0", "nbsp"}},
      {"e\xCC\x81", {"e", "\xCC\x81"}},  // a combining mark is neither letter nor number
      {"   ", {"   "}},
      {"12ab", {"12", "ab"}},
  };
  int ok = 0;
  for (const auto& c : cases) {
    auto got = split(c.in);
    EXPECT_EQ(got, c.want) << "input '" << c.in << "': got " << show(got) << ", want " << show(c.want);
    ok += got == c.want;
  }
  std::cout << ok << "/" << sizeof(cases) / sizeof(cases[0]) << " split cases as expected\n";
}

TEST(Unicode, PreTokenizeDigitsAndPrefixSpace) {
  PreTokenizerConfig cfg;
  cfg.digits = true;
  cfg.individual_digits = true;
  std::vector<PreToken> out;
  std::vector<uint32_t> scratch;
  std::string s = "S12 34x";
  pre_tokenize(s, 0, static_cast<uint32_t>(s.size()), cfg, out, scratch);
  std::vector<std::string> got;
  for (const auto& p : out) got.push_back(s.substr(p.begin, p.end - p.begin));
  EXPECT_EQ(got, (std::vector<std::string>{"S", "1", "2", " ", "3", "4", "x"}));

  cfg.individual_digits = false;
  cfg.add_prefix_space = true;
  out.clear();
  pre_tokenize(s, 0, static_cast<uint32_t>(s.size()), cfg, out, scratch);
  got.clear();
  std::string flags;
  for (const auto& p : out) {
    got.push_back(s.substr(p.begin, p.end - p.begin));
    flags += p.prefixed ? 'p' : '-';
  }
  // Digits pieces "S", "12", " ", "34", "x": each not starting with ' ' gets a virtual one.
  EXPECT_EQ(got, (std::vector<std::string>{"S", "12", " ", "34", "x"}));
  EXPECT_EQ(flags, "pp-pp");
}

TEST(Unicode, ByteLevelAlphabet) {
  EXPECT_EQ(byte_to_codepoint('a'), uint32_t('a'));
  EXPECT_EQ(byte_to_codepoint(' '), 0x120u);   // Ġ
  EXPECT_EQ(byte_to_codepoint('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(byte_to_codepoint(0xAD), 0x143u);  // the last of the remapped bytes
  int round_trips = 0;
  for (int b = 0; b < 256; ++b) round_trips += codepoint_to_byte(byte_to_codepoint(uint8_t(b))) == b;
  EXPECT_EQ(round_trips, 256);
  EXPECT_EQ(codepoint_to_byte(0x4E00), -1);
}
