// ROUGE-L F1 (text_similarity.h): longest common subsequence of tokens with a two-row table.
#include "eval/text_similarity.h"

#include <algorithm>

#include "text/unicode.h"

namespace prospect::eval {

std::vector<std::string> rouge_tokens(const std::string& text) {
  // Python's text.lower().split(): Unicode lower-casing, every Unicode whitespace separates.
  return text::python_split(text::python_lower(text));
}

double rouge_l_f1(const std::string& candidate, const std::string& reference) {
  std::vector<std::string> c = rouge_tokens(candidate), r = rouge_tokens(reference);
  if (c.empty() && r.empty()) return 1.0;
  if (c.empty() || r.empty()) return 0.0;
  std::vector<size_t> prev(r.size() + 1, 0), cur(r.size() + 1, 0);
  for (size_t i = 1; i <= c.size(); ++i) {
    cur[0] = 0;
    for (size_t j = 1; j <= r.size(); ++j) {
      cur[j] = c[i - 1] == r[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  double lcs = static_cast<double>(prev[r.size()]);
  if (lcs == 0) return 0.0;
  double p = lcs / static_cast<double>(c.size()), rec = lcs / static_cast<double>(r.size());
  return 2 * p * rec / (p + rec);
}

}  // namespace prospect::eval
