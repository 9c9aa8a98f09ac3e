// The vocabulary the Arrow IPC reader and writer share: Arrow's type ids, a top-level column of a schema, and
// the message framing constants of the IPC format (Message.fbs). Not here: reading or writing bytes
// (arrow_reader.h, arrow_writer.h), nested types' children, dictionaries.
#pragma once
#include <cstdint>
#include <string>

namespace prospect::data {

// Arrow's Type union ids (Schema.fbs), the ones we name in messages; others keep their number.
enum class ArrowType : int {
  Null = 1,
  Int = 2,
  FloatingPoint = 3,
  Binary = 4,
  Utf8 = 5,
  Bool = 6,
  Struct = 13,
  LargeBinary = 19,
  LargeUtf8 = 20,
};

// A top-level column of the schema.
struct ArrowField {
  std::string name;
  int type_id = 0;  // Arrow Type union id: Utf8 = 5, Binary = 4, LargeUtf8 = 20, LargeBinary = 19, ...
  bool nullable = true;
  bool dictionary = false;      // dictionary-encoded (not readable here)
  bool is_binary_like() const;  // utf8, large_utf8, binary or large_binary
};

// "utf8", "large_binary", "int", ... for messages.
std::string arrow_type_name(int type_id);

// The IPC format's framing (Message.fbs): MessageHeader union ids, the metadata version written, and the
// continuation marker before each message's length.
namespace arrow_ipc {
constexpr uint8_t kHeaderSchema = 1;
constexpr uint8_t kHeaderDictionaryBatch = 2;
constexpr uint8_t kHeaderRecordBatch = 3;
constexpr int16_t kMetadataV5 = 4;
constexpr uint32_t kContinuation = 0xFFFFFFFFu;
}  // namespace arrow_ipc

}  // namespace prospect::data
