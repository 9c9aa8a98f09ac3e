// Arrow type names and column kinds (see arrow_format.h).
#include "data/arrow_format.h"

namespace prospect::data {

bool ArrowField::is_binary_like() const {
  return !dictionary && (type_id == 4 || type_id == 5 || type_id == 19 || type_id == 20);
}

std::string arrow_type_name(int type_id) {
  static const char* names[] = {"none",
                                "null",
                                "int",
                                "floating_point",
                                "binary",
                                "utf8",
                                "bool",
                                "decimal",
                                "date",
                                "time",
                                "timestamp",
                                "interval",
                                "list",
                                "struct",
                                "union",
                                "fixed_size_binary",
                                "fixed_size_list",
                                "map",
                                "duration",
                                "large_binary",
                                "large_utf8",
                                "large_list",
                                "run_end_encoded",
                                "binary_view",
                                "utf8_view",
                                "list_view",
                                "large_list_view"};
  if (type_id >= 0 && type_id < int(sizeof(names) / sizeof(names[0]))) return names[type_id];
  return "type " + std::to_string(type_id);
}

}  // namespace prospect::data
