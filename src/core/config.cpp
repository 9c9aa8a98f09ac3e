// JSON options with defaults, overlays and --set overrides (see config.h).
#include "core/config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace prospect {

namespace {

// Edit distance, to suggest the key a typo meant.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest_key(const nlohmann::json& obj, const std::string& key) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    size_t d = edit_distance(it.key(), key);
    if (d < best_d) {
      best_d = d;
      best = it.key();
    }
  }
  return best;
}

bool same_kind(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) {
    // An integer option must stay integral; a float option accepts integers (1 for 1.0).
    return !(a.is_number_integer() && b.is_number_float());
  }
  if (a.is_null() || b.is_null()) return true;  // null defaults mean "unset": any type
  return a.type() == b.type();
}

void overlay_at(nlohmann::json& base, const nlohmann::json& user, const std::string& origin,
                const std::string& prefix) {
  if (!user.is_object())
    fail(origin + ": expected a JSON object" + (prefix.empty() ? "" : " at '" + prefix + "'"));
  for (auto it = user.begin(); it != user.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (!base.contains(it.key())) {
      std::string near = nearest_key(base, it.key());
      fail(origin + ": unknown option '" + key + "'" +
           (near.empty() ? "" : " (did you mean '" + (prefix.empty() ? near : prefix + "." + near) + "'?)"));
    }
    nlohmann::json& slot = base[it.key()];
    if (slot.is_object() && !slot.empty()) {
      overlay_at(slot, it.value(), origin, key);
    } else {
      if (!same_kind(slot, it.value()))
        fail(origin + ": option '" + key + "' expects " + std::string(slot.type_name()) + " (default " +
             slot.dump() + "), got " + it.value().dump());
      slot = it.value();
    }
  }
}

}  // namespace

nlohmann::json defaults_from_docs(const std::vector<OptionDoc>& docs) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& d : docs)
    out[nlohmann::json::json_pointer("/" + [&] {
      std::string p = d.key;
      std::replace(p.begin(), p.end(), '.', '/');
      return p;
    }())] = d.default_value;
  return out;
}

void overlay_config(nlohmann::json& base, const nlohmann::json& user, const std::string& origin) {
  overlay_at(base, user, origin, "");
}

void apply_override(nlohmann::json& config, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set " + assignment + ": expected key=value (e.g. --set optim.lr=1e-4)");
  std::string key = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;
  // Build {"a": {"b": value}} and overlay it, so the same checks apply as for files.
  nlohmann::json nested = value;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (part.empty()) fail("--set " + assignment + ": empty key component");
    parts.push_back(part);
  }
  for (size_t i = parts.size(); i-- > 0;) nested = nlohmann::json{{parts[i], nested}};
  overlay_config(config, nested, "--set " + assignment);
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path + ": malformed JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {  // out_of_range for a number like 1e999
    fail(path + ": malformed JSON: " + e.what());
  }
}

std::string format_option_docs(const std::vector<OptionDoc>& docs) {
  size_t width = 0;
  for (const auto& d : docs) width = std::max(width, d.key.size() + d.default_value.dump().size() + 3);
  std::string out;
  for (const auto& d : docs) {
    std::string head = d.key + " = " + d.default_value.dump();
    out += "  " + head + std::string(width - head.size() + 2, ' ') + d.help + "\n";
  }
  return out;
}

}  // namespace prospect
