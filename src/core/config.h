// Options files: a JSON object of defaults, overlaid by the user's JSON file, then by `--set a.b=value`
// overrides. Every key must already exist in the defaults (a typo is an error naming the key and the nearest
// known one), and a value must keep its default's type (numbers may be int or float). The effective config
// is what runs print and save beside checkpoints. No YAML: the GPU image has no YAML library.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace prospect {

// One documented option: its dotted key, default and help text (for `--help` and the docs).
struct OptionDoc {
  std::string key;
  nlohmann::json default_value;
  std::string help;
};

// Builds the defaults object from the option list (dotted keys become nested objects).
nlohmann::json defaults_from_docs(const std::vector<OptionDoc>& docs);

// Overlays `user` onto `base` recursively; `origin` names the source in errors (a file path or "--set").
// Throws prospect::Error for an unknown key or a type change.
void overlay_config(nlohmann::json& base, const nlohmann::json& user, const std::string& origin);

// Applies one "a.b.c=value" override. The value is parsed as JSON when it parses (1e-5, true, [1,2],
// "x"), else taken as a string. Throws prospect::Error for a malformed override or unknown key.
void apply_override(nlohmann::json& config, const std::string& assignment);

// Reads a JSON file; throws prospect::Error with the file and the parser's position on malformed input.
nlohmann::json read_json_file(const std::string& path);

// Text for `--help`: one line per option, "  key (default: value)  help".
std::string format_option_docs(const std::vector<OptionDoc>& docs);

}  // namespace prospect
