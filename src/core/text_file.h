// Reading and writing a small file (JSON, JSONL, Markdown, SVG, an encoded frame) whole, with the failure
// reported rather than lost. Not atomic: callers that need all-or-nothing write into a temporary directory
// and rename it.
#pragma once
#include <string>

namespace prospect {

// Writes `text` to `path`, replacing it. The stream is closed before it is checked, because a full disk
// may only show when the last buffer is written. Throws prospect::Error naming the path on failure.
void write_text_file(const std::string& path, const std::string& text);

// The bytes of `path`, unchanged (binary mode). Throws prospect::Error naming the path: `open_error` with
// `hint` when it cannot be opened, "{open_error}: read failed" when reading stops part-way.
std::string read_text_file(const std::string& path, const std::string& open_error = "cannot open the file",
                           const std::string& hint = "");

}  // namespace prospect
