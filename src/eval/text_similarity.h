// Text similarity of a predicted utterance to its matched reference, for the speaking metric of streaming.md
// §2: ROUGE-L F1 over lower-cased whitespace tokens. Not here: embedding-model similarity (a later option).
#pragma once
#include <string>
#include <vector>

namespace prospect::eval {

// Python's text.lower().split(): Unicode lower-casing (str.lower(), "É" -> "é", "İ" -> "i̇") and a split at
// every Unicode whitespace (str.isspace(): NBSP, U+3000, ...). Punctuation stays part of its token ("Wheel."
// and "wheel" differ); bytes that are not well-formed UTF-8 are kept as they are.
std::vector<std::string> rouge_tokens(const std::string& text);

// ROUGE-L F1 = 2·P·R / (P + R) with P = LCS / |candidate|, R = LCS / |reference| over rouge_tokens.
// 1.0 when both texts have no tokens, 0.0 when exactly one has none. O(|c|·|r|) time, O(|r|) memory.
double rouge_l_f1(const std::string& candidate, const std::string& reference);

}  // namespace prospect::eval
