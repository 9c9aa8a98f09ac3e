// Whole-file text writes with checked close (see text_file.h).
#include "core/text_file.h"

#include <fstream>

#include "core/error.h"

namespace prospect {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) fail(path + ": write failed (disk full or no permission?)");
}

}  // namespace prospect
