// The Arrow IPC writer (see arrow_writer.h). The flatbuffer metadata (Message.fbs, Schema.fbs, File.fbs) is
// written by a small forward builder; no flatbuffers or Arrow library is involved. Assumes a little-endian
// host (x86-64, aarch64), as Arrow's own files are little-endian.
#include "data/arrow_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

#include "core/error.h"

namespace prospect::data {

using namespace arrow_ipc;

// ---- flatbuffer building (writer) -----------------------------------------------------------------------
namespace {

// A flatbuffer object to serialise. Built front to back: a table's children are written after it, so every
// uoffset points forward as flatbuffers requires; each object is aligned for its widest scalar.
struct FbNode {
  enum Kind { kTable, kString, kTableVector, kStructVector } kind = kTable;
  struct Field {
    int slot = 0;
    int size = 0;        // 1, 2, 4, 8 for scalars; 0 for a reference
    uint64_t value = 0;  // scalar bits
    std::unique_ptr<FbNode> ref;
  };
  std::vector<Field> fields;                   // kTable
  std::string bytes;                           // kString, kStructVector (packed elements)
  uint32_t count = 0;                          // kStructVector
  std::vector<std::unique_ptr<FbNode>> items;  // kTableVector

  FbNode& scalar(int slot, int size, uint64_t v) {
    Field f;
    f.slot = slot;
    f.size = size;
    f.value = v;
    fields.push_back(std::move(f));
    return *this;
  }
  FbNode& ref(int slot, std::unique_ptr<FbNode> child) {
    Field f;
    f.slot = slot;
    f.ref = std::move(child);
    fields.push_back(std::move(f));
    return *this;
  }
};

std::unique_ptr<FbNode> fb_table() { return std::make_unique<FbNode>(); }
std::unique_ptr<FbNode> fb_string(const std::string& s) {
  auto n = std::make_unique<FbNode>();
  n->kind = FbNode::kString;
  n->bytes = s;
  return n;
}
std::unique_ptr<FbNode> fb_tables(std::vector<std::unique_ptr<FbNode>> items) {
  auto n = std::make_unique<FbNode>();
  n->kind = FbNode::kTableVector;
  n->items = std::move(items);
  return n;
}
std::unique_ptr<FbNode> fb_structs(std::string packed, uint32_t count) {
  auto n = std::make_unique<FbNode>();
  n->kind = FbNode::kStructVector;
  n->bytes = std::move(packed);
  n->count = count;
  return n;
}

template <typename T>
void append(std::string& b, T v) {
  char tmp[sizeof(T)];
  std::memcpy(tmp, &v, sizeof(T));
  b.append(tmp, sizeof(T));
}

template <typename T>
void patch(std::string& b, size_t pos, T v) {
  std::memcpy(&b[pos], &v, sizeof(T));
}

// Pads `b` with zeros until (b.size() + extra) is a multiple of `align`.
void align_to(std::string& b, size_t align, size_t extra = 0) {
  while ((b.size() + extra) % align) b.push_back('\0');
}

size_t emit(std::string& b, const FbNode& n) {
  if (n.kind == FbNode::kString) {
    align_to(b, 4);
    size_t pos = b.size();
    append<uint32_t>(b, uint32_t(n.bytes.size()));
    b += n.bytes;
    b.push_back('\0');
    return pos;
  }
  if (n.kind == FbNode::kStructVector) {
    align_to(b, 8, 4);  // the elements (after the length) hold int64s
    size_t pos = b.size();
    append<uint32_t>(b, n.count);
    b += n.bytes;
    return pos;
  }
  if (n.kind == FbNode::kTableVector) {
    align_to(b, 4);
    size_t pos = b.size();
    append<uint32_t>(b, uint32_t(n.items.size()));
    size_t first = b.size();
    b.append(4 * n.items.size(), '\0');
    for (size_t i = 0; i < n.items.size(); i++) {
      size_t child = emit(b, *n.items[i]);
      patch<uint32_t>(b, first + 4 * i, uint32_t(child - (first + 4 * i)));
    }
    return pos;
  }
  // Table: lay fields out widest first, each aligned to its size from the (8-aligned) table start.
  int nslots = 0;
  for (const auto& f : n.fields) nslots = std::max(nslots, f.slot + 1);
  std::vector<size_t> order(n.fields.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  auto width = [&n](size_t i) { return n.fields[i].size == 0 ? 4 : n.fields[i].size; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t c) { return width(a) > width(c); });
  std::vector<size_t> at(n.fields.size());
  size_t cur = 4;  // after the soffset to the vtable
  for (size_t i : order) {
    size_t w = size_t(width(i));
    cur = (cur + w - 1) / w * w;
    at[i] = cur;
    cur += w;
  }
  size_t table_size = cur;
  align_to(b, 2);
  size_t vt = b.size();
  append<uint16_t>(b, uint16_t(4 + 2 * nslots));
  append<uint16_t>(b, uint16_t(table_size));
  std::vector<uint16_t> slots(size_t(nslots), 0);
  for (size_t i = 0; i < n.fields.size(); i++) slots[size_t(n.fields[i].slot)] = uint16_t(at[i]);
  for (uint16_t s : slots) append<uint16_t>(b, s);
  align_to(b, 8);
  size_t pos = b.size();
  b.append(table_size, '\0');
  patch<int32_t>(b, pos, int32_t(pos - vt));
  for (size_t i = 0; i < n.fields.size(); i++) {
    const auto& f = n.fields[i];
    if (f.size == 1) patch<uint8_t>(b, pos + at[i], uint8_t(f.value));
    if (f.size == 2) patch<uint16_t>(b, pos + at[i], uint16_t(f.value));
    if (f.size == 4) patch<uint32_t>(b, pos + at[i], uint32_t(f.value));
    if (f.size == 8) patch<uint64_t>(b, pos + at[i], f.value);
  }
  for (size_t i = 0; i < n.fields.size(); i++) {
    if (n.fields[i].size != 0) continue;
    size_t child = emit(b, *n.fields[i].ref);
    patch<uint32_t>(b, pos + at[i], uint32_t(child - (pos + at[i])));
  }
  return pos;
}

// A whole flatbuffer: root offset, then the root table; padded to a multiple of 8 bytes.
std::string finish_fb(const FbNode& root) {
  std::string b(4, '\0');
  size_t pos = emit(b, root);
  patch<uint32_t>(b, 0, uint32_t(pos));
  align_to(b, 8);
  return b;
}

std::unique_ptr<FbNode> schema_node(const std::vector<ArrowField>& fields,
                                    const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<std::unique_ptr<FbNode>> fs;
  for (const auto& f : fields) {
    auto t = fb_table();
    t->ref(0, fb_string(f.name));
    t->scalar(1, 1, f.nullable ? 1 : 0);
    t->scalar(2, 1, uint64_t(f.type_id));
    t->ref(3, fb_table());     // Utf8 / Binary / ... are empty tables
    t->ref(5, fb_tables({}));  // Arrow C++ insists on a children vector
    fs.push_back(std::move(t));
  }
  std::vector<std::unique_ptr<FbNode>> kvs;
  for (const auto& kv : metadata) {
    auto t = fb_table();
    t->ref(0, fb_string(kv.first));
    t->ref(1, fb_string(kv.second));
    kvs.push_back(std::move(t));
  }
  auto s = fb_table();
  s->ref(1, fb_tables(std::move(fs)));
  if (!kvs.empty()) s->ref(2, fb_tables(std::move(kvs)));
  return s;
}

std::string message_fb(uint8_t kind, std::unique_ptr<FbNode> header, int64_t body_len) {
  auto m = fb_table();
  m->scalar(0, 2, uint64_t(kMetadataV5));
  m->scalar(1, 1, kind);
  m->ref(2, std::move(header));
  m->scalar(3, 8, uint64_t(body_len));
  return finish_fb(*m);
}

std::string encapsulate(const std::string& fb) {
  std::string out;
  append<uint32_t>(out, kContinuation);
  append<int32_t>(out, int32_t(fb.size()));
  out += fb;
  return out;
}

}  // namespace

// ---- ArrowWriter ------------------------------------------------------------------------------------
ArrowWriter::ArrowWriter(const std::string& path, std::vector<ArrowField> fields,
                         std::vector<std::pair<std::string, std::string>> metadata, bool file_format)
    : path_(path), fields_(std::move(fields)), metadata_(std::move(metadata)), file_format_(file_format) {
  for (const auto& f : fields_)
    if (!f.is_binary_like())
      fail(file_context(path_, f.name),
           "the Arrow writer writes utf8/binary columns only, not " + arrow_type_name(f.type_id));
  out_ = std::fopen(path_.c_str(), "wb");
  if (!out_) fail(file_context(path_), std::string("cannot create: ") + std::strerror(errno));
  if (file_format_) put(std::string("ARROW1\0\0", 8));
  put(encapsulate(message_fb(kHeaderSchema, schema_node(fields_, metadata_), 0)));
}

ArrowWriter::~ArrowWriter() {
  if (out_) std::fclose(out_);
}

void ArrowWriter::put(const std::string& bytes) {
  if (!out_) fail(file_context(path_), "write after finish()");
  if (std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size())
    fail(file_context(path_), std::string("write failed: ") + std::strerror(errno));
  written_ += bytes.size();
}

void ArrowWriter::write_batch(const std::vector<std::vector<std::string>>& columns) {
  if (columns.size() != fields_.size())
    fail(file_context(path_), "write_batch got " + std::to_string(columns.size()) +
                                  " columns, the schema has " + std::to_string(fields_.size()));
  size_t rows = columns.empty() ? 0 : columns[0].size();
  std::string body, nodes, buffers;
  auto add_buffer = [&](const std::string& bytes) {
    append<int64_t>(buffers, int64_t(body.size()));
    append<int64_t>(buffers, int64_t(bytes.size()));
    body += bytes;
    align_to(body, 8);
  };
  for (size_t c = 0; c < columns.size(); c++) {
    const ArrowField& f = fields_[c];
    if (columns[c].size() != rows)
      fail(file_context(path_, f.name),
           "column has " + std::to_string(columns[c].size()) + " rows, column 0 has " + std::to_string(rows));
    bool large = f.type_id == 19 || f.type_id == 20;
    std::string offsets, data;
    int64_t total = 0;
    if (large)
      append<int64_t>(offsets, 0);
    else
      append<int32_t>(offsets, 0);
    for (const auto& v : columns[c]) {
      total += int64_t(v.size());
      if (!large && total > std::numeric_limits<int32_t>::max())
        fail(file_context(path_, f.name), "batch holds more than 2 GiB of values",
             "write smaller batches or use large_utf8 / large_binary");
      if (large)
        append<int64_t>(offsets, total);
      else
        append<int32_t>(offsets, int32_t(total));
      data += v;
    }
    append<int64_t>(nodes, int64_t(rows));
    append<int64_t>(nodes, 0);
    add_buffer("");  // no nulls: an empty validity bitmap
    add_buffer(offsets);
    add_buffer(data);
  }
  auto rb = fb_table();
  rb->scalar(0, 8, uint64_t(rows));
  rb->ref(1, fb_structs(nodes, uint32_t(columns.size())));
  rb->ref(2, fb_structs(buffers, uint32_t(3 * columns.size())));
  std::string meta = encapsulate(message_fb(kHeaderRecordBatch, std::move(rb), int64_t(body.size())));
  blocks_.push_back(Block{written_, int32_t(meta.size()), body.size()});
  put(meta);
  put(body);
}

void ArrowWriter::finish() {
  if (!out_) return;
  std::string eos;
  append<uint32_t>(eos, kContinuation);
  append<int32_t>(eos, 0);
  put(eos);
  if (file_format_) {
    std::string blocks;
    for (const Block& b : blocks_) {
      append<int64_t>(blocks, int64_t(b.offset));
      append<int32_t>(blocks, b.meta_len);
      append<int32_t>(blocks, 0);
      append<int64_t>(blocks, int64_t(b.body_len));
    }
    auto footer = fb_table();
    footer->scalar(0, 2, uint64_t(kMetadataV5));
    footer->ref(1, schema_node(fields_, metadata_));
    footer->ref(2, fb_structs("", 0));
    footer->ref(3, fb_structs(blocks, uint32_t(blocks_.size())));
    std::string fb = finish_fb(*footer);
    put(fb);
    std::string tail;
    append<int32_t>(tail, int32_t(fb.size()));
    tail += "ARROW1";
    put(tail);
  }
  int rc = std::fclose(out_);
  out_ = nullptr;
  if (rc != 0) fail(file_context(path_), std::string("close failed: ") + std::strerror(errno));
}

}  // namespace prospect::data
