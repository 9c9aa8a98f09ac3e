// ROUGE-L's tokens are Python's text.lower().split(): Unicode lower-casing and Unicode whitespace, not ASCII
// only (the expected tokens below are what Python 3.11 prints for the same strings).
#include "eval/text_similarity.h"

#include <gtest/gtest.h>

#include <iostream>

using prospect::eval::rouge_l_f1;
using prospect::eval::rouge_tokens;

namespace {
void expect_tokens(const std::string& text, const std::vector<std::string>& want) {
  std::vector<std::string> got = rouge_tokens(text);
  std::cout << "\"" << text << "\" ->";
  for (const auto& t : got) std::cout << " [" << t << "]";
  std::cout << "\n";
  EXPECT_EQ(got, want);
}
}  // namespace

TEST(RougeTokens, UnicodeLowerCase) {
  expect_tokens("ÉCROU Bleu", {"écrou", "bleu"});
  expect_tokens("ΟΔΗΓΙΕΣ Straße", {"οδηγιες", "straße"});  // final sigma at a word's end, as Python does
  expect_tokens("ΣΑΣ ΟΔΟΣ. Σ aΣb ΑΣ\u0301", {"σας", "οδος.", "σ", "aσb", "ας\u0301"});
  expect_tokens("İstanbul", {"i\xcc\x87stanbul"});  // U+0130 lowers to two code points, as in Python
  expect_tokens("ＡＢＣ", {"ａｂｃ"});              // full-width letters have lower-case forms too
  EXPECT_DOUBLE_EQ(rouge_l_f1("Attach THE Écrou", "attach the écrou"), 1.0);
}

TEST(RougeTokens, UnicodeWhitespace) {
  expect_tokens(
      "a\xc2\xa0"
      "b\xe3\x80\x80"
      "c\xe2\x80\x83"
      "d\x1c"
      "e",
      {"a", "b", "c", "d", "e"});  // NBSP, U+3000, U+2003, \x1c
  expect_tokens("  tabs\tand\nnewlines\r\n ", {"tabs", "and", "newlines"});
  expect_tokens("zero\xe2\x80\x8bwidth", {"zero\xe2\x80\x8bwidth"});  // U+200B is not whitespace in Python
  EXPECT_DOUBLE_EQ(rouge_l_f1("now\xe3\x80\x80the wheels", "now the wheels"), 1.0);
}

TEST(RougeTokens, InvalidUtf8PassesThrough) {
  expect_tokens(
      "ab\xff"
      "C d",
      {"ab\xff"
       "c",
       "d"});
}
