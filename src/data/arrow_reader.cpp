// The Arrow IPC reader (see arrow_reader.h). The flatbuffer metadata (Message.fbs, Schema.fbs, File.fbs) is
// read through a small bounds-checked table reader; no flatbuffers or Arrow library is involved. Assumes a
// little-endian host (x86-64, aarch64), as Arrow's own files are little-endian.
#include "data/arrow_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace prospect::data {

namespace {

using namespace arrow_ipc;

// No Arrow metadata we read comes near this; a bigger length is a lie that would only waste time.
constexpr int64_t kMaxMetadata = int64_t(1) << 30;

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

[[noreturn]] void corrupt(const std::string& file, const std::string& message) {
  fail(file_context(file), message, "the Arrow file is truncated or corrupt; rewrite it");
}

// ---- bounds-checked flatbuffer reading --------------------------------------------------------------
// One flatbuffer (a Message or the file Footer) inside the mapping. Every access checks its range against
// the buffer and throws naming the file and `where` (which message) on a lie.
struct Fb {
  const uint8_t* p = nullptr;
  uint64_t n = 0;
  const std::string* file = nullptr;
  std::string where;

  [[noreturn]] void bad(const std::string& what) const {
    corrupt(*file, where + ": bad flatbuffer metadata (" + what + ")");
  }
  void need(uint64_t pos, uint64_t len, const char* what) const {
    if (pos > n || len > n - pos) bad(std::string(what) + " out of bounds");
  }
  uint32_t u32(uint64_t pos) const {
    need(pos, 4, "offset");
    return load<uint32_t>(p + pos);
  }
};

struct Table {
  const Fb* fb = nullptr;
  uint64_t pos = 0;
  uint64_t vt = 0;
  uint16_t vt_size = 0;
  uint16_t size = 0;
};

struct Vec {
  uint64_t pos = 0;  // first element
  uint32_t len = 0;
};

Table table_at(const Fb& fb, uint64_t pos) {
  fb.need(pos, 4, "table");
  int64_t vt = int64_t(pos) - int64_t(load<int32_t>(fb.p + pos));
  if (vt < 0) fb.bad("vtable before the buffer");
  fb.need(uint64_t(vt), 4, "vtable");
  Table t;
  t.fb = &fb;
  t.pos = pos;
  t.vt = uint64_t(vt);
  t.vt_size = load<uint16_t>(fb.p + vt);
  t.size = load<uint16_t>(fb.p + vt + 2);
  if (t.vt_size < 4 || (t.vt_size & 1)) fb.bad("vtable size " + std::to_string(t.vt_size));
  fb.need(t.vt, t.vt_size, "vtable");
  fb.need(pos, t.size, "table");
  return t;
}

Table root_table(const Fb& fb) { return table_at(fb, fb.u32(0)); }

// Position of field `slot` inside the buffer, or 0 when the field is absent. `len` bytes must fit in the
// table.
uint64_t field_pos(const Table& t, int slot, uint64_t len) {
  uint64_t entry = 4 + 2 * uint64_t(slot);
  if (entry + 2 > t.vt_size) return 0;
  uint16_t off = load<uint16_t>(t.fb->p + t.vt + entry);
  if (off == 0) return 0;
  if (uint64_t(off) + len > t.size) t.fb->bad("field " + std::to_string(slot) + " outside its table");
  return t.pos + off;
}

template <typename T>
T scalar(const Table& t, int slot, T dflt) {
  uint64_t fp = field_pos(t, slot, sizeof(T));
  return fp ? load<T>(t.fb->p + fp) : dflt;
}

// Follows the uoffset stored at `fp` (always forward).
uint64_t deref(const Fb& fb, uint64_t fp) {
  uint64_t target = fp + fb.u32(fp);
  fb.need(target, 4, "reference");
  return target;
}

bool child_table(const Table& t, int slot, Table* out) {
  uint64_t fp = field_pos(t, slot, 4);
  if (!fp) return false;
  *out = table_at(*t.fb, deref(*t.fb, fp));
  return true;
}

bool vector_field(const Table& t, int slot, uint64_t elem_size, Vec* out) {
  uint64_t fp = field_pos(t, slot, 4);
  if (!fp) return false;
  uint64_t v = deref(*t.fb, fp);
  out->len = t.fb->u32(v);
  out->pos = v + 4;
  t.fb->need(out->pos, uint64_t(out->len) * elem_size, "vector");
  return true;
}

std::string string_field(const Table& t, int slot) {
  Vec v;
  if (!vector_field(t, slot, 1, &v)) return "";
  return std::string(reinterpret_cast<const char*>(t.fb->p + v.pos), v.len);
}

Table table_elem(const Table& parent, const Vec& v, uint32_t i) {
  uint64_t ep = v.pos + 4 * uint64_t(i);
  return table_at(*parent.fb, deref(*parent.fb, ep));
}

// ---- layout of a field inside record batches ----------------------------------------------------------
// Buffers a field of type `type_id` owns itself (children add theirs), or -1 when we cannot tell.
int own_buffers(int type_id, const Table* type_table) {
  switch (type_id) {
    case 1:
      return 0;  // Null
    case 2:
    case 3:
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 15:
    case 18:
      return 2;
    case 4:
    case 5:
    case 19:
    case 20:
      return 3;  // (large) binary / utf8: validity, offsets, data
    case 12:
    case 17:
    case 21:
      return 2;  // list, map, large list: validity, offsets
    case 13:
    case 16:
      return 1;  // struct, fixed-size list: validity
    case 14: {   // union: sparse = type ids; dense = type ids, offsets
      int16_t mode = type_table ? scalar<int16_t>(*type_table, 0, 0) : 0;
      return mode == 1 ? 2 : 1;
    }
    case 22:
      return 0;  // run-end encoded: children only
    case 25:
    case 26:
      return 3;  // list views
    default:
      return -1;  // view types (variadic buffers) and anything newer
  }
}

struct FieldSpan {
  int nodes = 0;
  int buffers = 0;  // -1 unknown
};

FieldSpan field_span(const Table& field, int depth) {
  if (depth > 64) field.fb->bad("fields nested deeper than 64");
  Table dict;
  if (child_table(field, 4, &dict)) return FieldSpan{1, 2};  // dictionary-encoded: laid out as its indices
  uint8_t type_id = scalar<uint8_t>(field, 2, 0);
  Table type_table;
  bool has_type = child_table(field, 3, &type_table);
  FieldSpan span{1, own_buffers(type_id, has_type ? &type_table : nullptr)};
  Vec children;
  if (vector_field(field, 5, 4, &children)) {
    for (uint32_t i = 0; i < children.len; i++) {
      FieldSpan c = field_span(table_elem(field, children, i), depth + 1);
      span.nodes += c.nodes;
      if (c.buffers < 0 || span.buffers < 0)
        span.buffers = -1;
      else
        span.buffers += c.buffers;
    }
  }
  return span;
}

std::string row_message(int64_t row, const std::string& what) {
  return "row " + std::to_string(row) + ": " + what;
}

}  // namespace

// ---- memory-mapped file -------------------------------------------------------------------------------
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(file_context(path), std::string("cannot open: ") + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(file_context(path), "not a regular file");
    }
    size_ = uint64_t(st.st_size);
    if (size_ > 0) {
      void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        fail(file_context(path), std::string("cannot memory-map: ") + std::strerror(e));
      }
      data_ = static_cast<const uint8_t*>(m);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// ---- ArrowReader -----------------------------------------------------------------------------------
ArrowReader::~ArrowReader() = default;

std::unique_ptr<ArrowReader> ArrowReader::open(const std::string& path) {
  std::unique_ptr<ArrowReader> r(new ArrowReader());
  r->path_ = path;
  r->map_ = std::make_unique<MappedFile>(path);
  r->data_ = r->map_->data();
  r->size_ = r->map_->size();
  r->index();
  return r;
}

std::unique_ptr<ArrowReader> ArrowReader::open_bytes(std::string bytes, const std::string& name) {
  std::unique_ptr<ArrowReader> r(new ArrowReader());
  r->path_ = name;
  r->owned_ = std::move(bytes);
  r->data_ = reinterpret_cast<const uint8_t*>(r->owned_.data());
  r->size_ = r->owned_.size();
  r->index();
  return r;
}

int ArrowReader::column_index(const std::string& name) const {
  for (size_t i = 0; i < fields_.size(); i++)
    if (fields_[i].name == name) return int(i);
  return -1;
}

std::string ArrowReader::metadata(const std::string& key) const {
  for (const auto& kv : metadata_)
    if (kv.first == key) return kv.second;
  return "";
}

int64_t ArrowReader::batch_rows(int b) const {
  if (b < 0 || b >= num_batches())
    fail(file_context(path_),
         "record batch " + std::to_string(b) + " out of range [0, " + std::to_string(num_batches()) + ")");
  return batches_[size_t(b)].rows;
}

namespace {

// Reads a Schema table into fields / layout / metadata.
void read_schema_table(const Table& schema, const std::string& file, std::vector<ArrowField>* fields,
                       std::vector<int>* field_buffers, std::vector<int>* field_nodes,
                       std::vector<std::pair<std::string, std::string>>* metadata) {
  if (scalar<int16_t>(schema, 0, 0) != 0)
    fail(file_context(file), "big-endian Arrow data is not supported",
         "rewrite the file on a little-endian machine");
  Vec fv;
  if (!vector_field(schema, 1, 4, &fv)) corrupt(file, "schema has no fields vector");
  fields->clear();
  field_buffers->clear();
  field_nodes->clear();
  for (uint32_t i = 0; i < fv.len; i++) {
    Table ft = table_elem(schema, fv, i);
    ArrowField f;
    f.name = string_field(ft, 0);
    f.nullable = scalar<uint8_t>(ft, 1, 0) != 0;
    f.type_id = scalar<uint8_t>(ft, 2, 0);
    Table dict;
    f.dictionary = child_table(ft, 4, &dict);
    FieldSpan span = field_span(ft, 0);
    fields->push_back(f);
    field_buffers->push_back(span.buffers);
    field_nodes->push_back(span.nodes);
  }
  metadata->clear();
  Vec mv;
  if (vector_field(schema, 2, 4, &mv)) {
    for (uint32_t i = 0; i < mv.len; i++) {
      Table kv = table_elem(schema, mv, i);
      metadata->emplace_back(string_field(kv, 0), string_field(kv, 1));
    }
  }
}

// One encapsulated message: where its flatbuffer and body lie.
struct MessageLoc {
  bool end = false;  // end-of-stream marker, or the end of the bytes
  uint64_t meta = 0, meta_len = 0, next = 0;
};

// Reads the framing at `pos`: 0xFFFFFFFF + int32 length (current), or a bare int32 length (before 0.15).
MessageLoc frame_at(const uint8_t* d, uint64_t size, uint64_t pos, const std::string& file) {
  MessageLoc m;
  if (pos == size) {
    m.end = true;  // a stream may end without the end-of-stream marker (pyarrow reads these too)
    return m;
  }
  if (size - pos < 4) corrupt(file, "truncated message header at byte " + std::to_string(pos));
  uint32_t a = load<uint32_t>(d + pos);
  uint64_t meta = pos + 4;
  int32_t len = int32_t(a);
  if (a == kContinuation) {
    if (size - pos < 8) corrupt(file, "truncated message header at byte " + std::to_string(pos));
    len = load<int32_t>(d + pos + 4);
    meta = pos + 8;
  }
  if (len == 0) {
    m.end = true;
    return m;
  }
  if (len < 0 || len > kMaxMetadata)
    corrupt(file, "message at byte " + std::to_string(pos) + " has metadata length " + std::to_string(len));
  if (uint64_t(len) > size - meta)
    corrupt(file, "message at byte " + std::to_string(pos) + " is truncated (metadata of " +
                      std::to_string(len) + " bytes, " + std::to_string(size - meta) + " left)");
  m.meta = meta;
  m.meta_len = uint64_t(len);
  return m;
}

}  // namespace

void ArrowReader::add_batch(const uint8_t* p, size_t n, uint64_t body, uint64_t body_len,
                            const std::string& where) {
  Fb fb{p, n, &path_, where};
  Table msg = root_table(fb);
  Table rb;
  if (!child_table(msg, 2, &rb)) corrupt(path_, where + ": record batch message without a header");
  Table comp;
  if (child_table(rb, 3, &comp)) {
    int8_t codec = scalar<int8_t>(comp, 0, 0);
    fail(file_context(path_),
         where + ": body compression " + std::string(codec == 1 ? "ZSTD" : "LZ4_FRAME") + " is not supported",
         "rewrite the file without compression (pyarrow: IpcWriteOptions(compression=None))");
  }
  int64_t length = scalar<int64_t>(rb, 0, 0);
  if (length < 0) corrupt(path_, where + ": negative row count " + std::to_string(length));
  if (length > std::numeric_limits<int64_t>::max() - num_rows_)
    corrupt(path_, where + ": row count overflows");
  Vec nodes, buffers;
  if (!vector_field(rb, 1, 16, &nodes)) nodes = Vec{};
  if (!vector_field(rb, 2, 16, &buffers)) buffers = Vec{};

  Batch b;
  b.first_row = num_rows_;
  b.rows = length;
  b.columns.resize(fields_.size());
  uint64_t node_i = 0, buf_i = 0;
  bool known = true;  // false once a column of unknown layout has been passed
  for (size_t c = 0; c < fields_.size(); c++) {
    if (!known) break;
    const ArrowField& f = fields_[c];
    if (f.is_binary_like()) {
      if (node_i >= nodes.len || buf_i + 3 > buffers.len)
        corrupt(path_,
                where + ": fewer field nodes or buffers than the schema needs (column '" + f.name + "')");
      const uint8_t* np = p + nodes.pos + 16 * node_i;
      int64_t node_len = load<int64_t>(np);
      int64_t null_count = load<int64_t>(np + 8);
      if (node_len != length || null_count < 0 || null_count > length)
        corrupt(path_, where + ": column '" + f.name + "' has " + std::to_string(node_len) + " rows and " +
                           std::to_string(null_count) + " nulls in a batch of " + std::to_string(length));
      uint64_t off[3], len[3];
      for (int k = 0; k < 3; k++) {
        const uint8_t* bp = p + buffers.pos + 16 * (buf_i + uint64_t(k));
        int64_t o = load<int64_t>(bp), l = load<int64_t>(bp + 8);
        if (o < 0 || l < 0 || uint64_t(o) > body_len || uint64_t(l) > body_len - uint64_t(o))
          corrupt(path_, where + ": buffer " + std::to_string(buf_i + k) + " [" + std::to_string(o) + ", +" +
                             std::to_string(l) + ") lies outside the " + std::to_string(body_len) +
                             "-byte body");
        off[k] = body + uint64_t(o);
        len[k] = uint64_t(l);
      }
      ColumnSlice& s = b.columns[c];
      s.offset_width = (f.type_id == 19 || f.type_id == 20) ? 8 : 4;
      s.validity = off[0];
      s.validity_len = len[0];
      s.offsets = off[1];
      s.offsets_len = len[1];
      s.data = off[2];
      s.data_len = len[2];
      s.null_count = null_count;
      if (length > 0 && s.offsets_len / uint64_t(s.offset_width) < uint64_t(length) + 1)
        corrupt(path_, where + ": offsets buffer of column '" + f.name + "' holds " +
                           std::to_string(s.offsets_len) + " bytes, too few for " + std::to_string(length) +
                           " rows");
      if (null_count > 0 && s.validity_len * 8 < uint64_t(length))
        corrupt(path_, where + ": validity bitmap of column '" + f.name + "' is too short");
      s.readable = true;
    }
    if (field_buffers_[c] < 0) known = false;
    node_i += uint64_t(field_nodes_[c]);
    buf_i += uint64_t(std::max(field_buffers_[c], 0));
  }
  num_rows_ += length;
  batches_.push_back(std::move(b));
}

void ArrowReader::index() {
  const uint8_t* d = data_;
  uint64_t size = size_;
  if (size >= 6 && std::memcmp(d, "ARROW1", 6) == 0) {
    file_format_ = true;
    if (size < 8 + 4 + 6 || std::memcmp(d + size - 6, "ARROW1", 6) != 0)
      corrupt(path_, "Arrow file format without its trailing ARROW1 magic (truncated?)");
    int32_t footer_len = load<int32_t>(d + size - 10);
    if (footer_len <= 0 || uint64_t(footer_len) > size - 8 - 10)
      corrupt(path_, "footer length " + std::to_string(footer_len) + " does not fit the file");
    uint64_t footer = size - 10 - uint64_t(footer_len);
    Fb fb{d + footer, uint64_t(footer_len), &path_, "footer"};
    Table ft = root_table(fb);
    Table schema;
    if (!child_table(ft, 1, &schema)) corrupt(path_, "footer has no schema");
    read_schema_table(schema, path_, &fields_, &field_buffers_, &field_nodes_, &metadata_);
    have_schema_ = true;
    Vec blocks;
    if (vector_field(ft, 3, 24, &blocks)) {
      for (uint32_t i = 0; i < blocks.len; i++) {
        const uint8_t* bp = fb.p + blocks.pos + 24 * uint64_t(i);
        int64_t off = load<int64_t>(bp);
        int32_t meta_len = load<int32_t>(bp + 8);
        int64_t body_len = load<int64_t>(bp + 16);
        std::string where = "record batch " + std::to_string(i) + " at byte " + std::to_string(off);
        if (off < 8 || uint64_t(off) >= footer || meta_len <= 0 ||
            uint64_t(meta_len) > footer - uint64_t(off) || body_len < 0 ||
            uint64_t(body_len) > footer - uint64_t(off) - uint64_t(meta_len))
          corrupt(path_, where + ": block (metadata " + std::to_string(meta_len) + " bytes, body " +
                             std::to_string(body_len) + " bytes) lies outside the file");
        MessageLoc m = frame_at(d, uint64_t(off) + uint64_t(meta_len), uint64_t(off), path_);
        if (m.end) corrupt(path_, where + ": block points at an end-of-stream marker");
        Fb mfb{d + m.meta, m.meta_len, &path_, where};
        Table msg = root_table(mfb);
        if (scalar<uint8_t>(msg, 1, 0) != kHeaderRecordBatch)
          corrupt(path_, where + ": block is not a record batch");
        add_batch(d + m.meta, m.meta_len, uint64_t(off) + uint64_t(meta_len), uint64_t(body_len), where);
      }
    }
    return;
  }

  // Stream format: messages back to back until the end-of-stream marker (or the end of the bytes).
  uint64_t pos = 0;
  int message = 0;
  while (true) {
    MessageLoc m = frame_at(d, size, pos, path_);
    if (m.end) break;
    std::string where = "message " + std::to_string(message) + " at byte " + std::to_string(pos);
    Fb fb{d + m.meta, m.meta_len, &path_, where};
    Table msg = root_table(fb);
    int16_t version = scalar<int16_t>(msg, 0, 0);
    if (version < 0 || version > kMetadataV5)
      corrupt(path_, where + ": unknown metadata version " + std::to_string(version));
    uint8_t kind = scalar<uint8_t>(msg, 1, 0);
    int64_t body_len = scalar<int64_t>(msg, 3, 0);
    uint64_t body = m.meta + m.meta_len;
    if (body_len < 0 || uint64_t(body_len) > size - body)
      corrupt(path_, where + ": body of " + std::to_string(body_len) +
                         " bytes runs past the end of the file (" + std::to_string(size - body) +
                         " bytes left)");
    if (kind == kHeaderSchema) {
      if (have_schema_) corrupt(path_, where + ": a second schema message");
      Table schema;
      if (!child_table(msg, 2, &schema)) corrupt(path_, where + ": schema message without a schema");
      read_schema_table(schema, path_, &fields_, &field_buffers_, &field_nodes_, &metadata_);
      have_schema_ = true;
    } else if (kind == kHeaderRecordBatch) {
      if (!have_schema_) corrupt(path_, where + ": record batch before the schema");
      add_batch(d + m.meta, m.meta_len, body, uint64_t(body_len), where);
    } else if (kind == kHeaderDictionaryBatch) {
      // Dictionaries only matter to dictionary-encoded columns, which value() refuses anyway.
    } else {
      corrupt(path_, where + ": unexpected message type " + std::to_string(kind));
    }
    pos = body + uint64_t(body_len);
    message++;
  }
  if (!have_schema_)
    corrupt(path_, size == 0 ? "empty file, not Arrow IPC" : "no schema message (not Arrow IPC?)");
}

std::string_view ArrowReader::value(int64_t row, int column) const {
  if (column < 0 || column >= int(fields_.size()))
    fail(file_context(path_), "column " + std::to_string(column) + " out of range (" +
                                  std::to_string(fields_.size()) + " columns)");
  const ArrowField& f = fields_[size_t(column)];
  ErrorContext ctx = file_context(path_, f.name);
  if (!f.is_binary_like())
    fail(ctx, "column is " + std::string(f.dictionary ? "dictionary-encoded " : "") +
                  arrow_type_name(f.type_id) + ", not utf8 or binary");
  if (row < 0 || row >= num_rows_)
    fail(ctx, row_message(row, "out of range [0, " + std::to_string(num_rows_) + ")"));
  // The batch holding `row`: the last one whose first row is <= row.
  size_t lo = 0, hi = batches_.size();
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (batches_[mid].first_row <= row)
      lo = mid;
    else
      hi = mid;
  }
  const Batch& b = batches_[lo];
  const ColumnSlice& s = b.columns[size_t(column)];
  if (!s.readable)
    fail(ctx,
         row_message(row, "column layout unknown (it follows a column of a type this reader cannot skip)"));
  uint64_t i = uint64_t(row - b.first_row);
  if (s.null_count > 0 && s.validity_len > 0) {
    uint8_t bits = data_[s.validity + i / 8];
    if (!((bits >> (i % 8)) & 1)) fail(ctx, row_message(row, "value is null"));
  }
  int64_t o0, o1;
  if (s.offset_width == 4) {
    o0 = load<int32_t>(data_ + s.offsets + 4 * i);
    o1 = load<int32_t>(data_ + s.offsets + 4 * (i + 1));
  } else {
    o0 = load<int64_t>(data_ + s.offsets + 8 * i);
    o1 = load<int64_t>(data_ + s.offsets + 8 * (i + 1));
  }
  if (o0 < 0 || o1 < o0 || uint64_t(o1) > s.data_len)
    fail(ctx,
         row_message(row, "value offsets [" + std::to_string(o0) + ", " + std::to_string(o1) +
                              ") lie outside the " + std::to_string(s.data_len) + "-byte data buffer"),
         "the Arrow file is corrupt; rewrite it");
  return std::string_view(reinterpret_cast<const char*>(data_ + s.data + uint64_t(o0)), size_t(o1 - o0));
}

}  // namespace prospect::data
