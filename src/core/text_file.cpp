// Whole-file text writes with checked close (see text_file.h).
#include "core/text_file.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace prospect {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) fail(path + ": write failed (disk full or no permission?)");
}

std::string read_text_file(const std::string& path, const std::string& open_error, const std::string& hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(file_context(path), open_error, hint);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(file_context(path), open_error + ": read failed", hint);
  return ss.str();
}

}  // namespace prospect
