// safetensors reader and writer (see safetensors.h). Validation happens once at open: after that every
// TensorView points inside the mapping and has exactly shape x dtype bytes.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace prospect::safetensors {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The reference implementation refuses headers above 100 MB; so do we (a lying length must not allocate).
constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;

[[noreturn]] void fail_in(const std::string& file, const std::string& tensor, const std::string& msg,
                          const std::string& hint = "") {
  // "FILE: tensor 'NAME': MESSAGE": the tensor is not a field of a clip, so it is spelled out here.
  ErrorContext ctx;
  ctx.file = file;
  if (!tensor.empty()) ctx.file += (file.empty() ? "" : ": ") + std::string("tensor '") + tensor + "'";
  fail(ctx, msg, hint);
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

size_t dtype_size(DType d) {
  switch (d) {
    case DType::F64:
      return 8;
    case DType::F32:
      return 4;
    case DType::F16:
      return 2;
    case DType::BF16:
      return 2;
    case DType::I64:
      return 8;
    case DType::I32:
      return 4;
    case DType::I16:
      return 2;
    case DType::I8:
      return 1;
    case DType::U8:
      return 1;
    case DType::BOOL:
      return 1;
  }
  return 1;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F64:
      return "F64";
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::I16:
      return "I16";
    case DType::I8:
      return "I8";
    case DType::U8:
      return "U8";
    case DType::BOOL:
      return "BOOL";
  }
  return "?";
}

DType parse_dtype(const std::string& name, const std::string& where) {
  static const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                              DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  for (DType d : all)
    if (name == dtype_name(d)) return d;
  fail_in(where, "", "unsupported dtype '" + name + "'",
          "supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::vector<TensorInfo> parse_header(const std::string& header_json, uint64_t data_size,
                                     const std::string& file, std::map<std::string, std::string>* metadata) {
  json h;
  try {
    h = json::parse(header_json);
  } catch (const json::exception& e) {
    fail_in(file, "", std::string("header is not valid JSON: ") + e.what(), "is this a .safetensors file?");
  }
  if (!h.is_object()) fail_in(file, "", "header is not a JSON object");
  std::vector<TensorInfo> out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) fail_in(file, name, "__metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string())
          fail_in(file, "__metadata__." + m.key(), "metadata value is not a string");
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (name.empty()) fail_in(file, name, "empty tensor name");
    if (!e.is_object()) fail_in(file, name, "tensor entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) fail_in(file, name, "missing or non-string 'dtype'");
    if (!e.contains("shape") || !e["shape"].is_array()) fail_in(file, name, "missing or non-array 'shape'");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      fail_in(file, name, "'data_offsets' must be an array [begin, end]");
    TensorInfo t;
    t.name = name;
    t.dtype = parse_dtype(e["dtype"].get<std::string>(), file + ": tensor '" + name + "'");
    // numel * element size must fit in 64 bits; track it with overflow checks as we go.
    uint64_t bytes = dtype_size(t.dtype);
    for (const json& d : e["shape"]) {
      if (!d.is_number_unsigned()) fail_in(file, name, "shape has a non-integer or negative dim");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / dim)
        fail_in(file, name, "shape x dtype overflows 64 bits");
      bytes *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const json& o : e["data_offsets"])
      if (!o.is_number_unsigned()) fail_in(file, name, "data_offsets are not non-negative integers");
    t.begin = e["data_offsets"][0].get<uint64_t>();
    t.end = e["data_offsets"][1].get<uint64_t>();
    if (t.begin > t.end)
      fail_in(file, name,
              "data_offsets begin " + std::to_string(t.begin) + " > end " + std::to_string(t.end));
    if (t.end > data_size)
      fail_in(file, name,
              "data_offsets end " + std::to_string(t.end) + " is past the data section (" +
                  std::to_string(data_size) + " bytes)",
              "the file is truncated or the header lies");
    if (t.end - t.begin != bytes)
      fail_in(file, name,
              "holds " + std::to_string(t.end - t.begin) + " bytes but shape x " + dtype_name(t.dtype) +
                  " needs " + std::to_string(bytes));
    out.push_back(std::move(t));
  }
  // No two tensors may share bytes (empty tensors occupy none).
  std::vector<const TensorInfo*> by_begin;
  for (const auto& t : out)
    if (t.nbytes() > 0) by_begin.push_back(&t);
  std::sort(by_begin.begin(), by_begin.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    if (by_begin[i]->begin < by_begin[i - 1]->end)
      fail_in(file, by_begin[i]->name, "overlaps tensor '" + by_begin[i - 1]->name + "'",
              "the header lies about data_offsets");
  }
  return out;
}

std::shared_ptr<File> File::open(const std::string& path) {
  std::shared_ptr<File> f(new File());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_in(path, "", std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_in(path, "", "not a regular file");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail_in(path, "", "file of " + std::to_string(size) + " bytes is too short for a safetensors header",
            "the file is truncated");
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) fail_in(path, "", std::string("mmap failed: ") + std::strerror(errno));
  f->map_ = m;
  f->map_size_ = size;
  const uint8_t* bytes = static_cast<const uint8_t*>(m);
  uint64_t n = read_le64(bytes);
  if (n > kMaxHeader) fail_in(path, "", "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8)
    fail_in(path, "",
            "header length " + std::to_string(n) + " is past the end of the file (" + std::to_string(size) +
                " bytes)",
            "the file is truncated");
  std::string header(reinterpret_cast<const char*>(bytes + 8), n);
  f->data_ = bytes + 8 + n;
  f->data_size_ = size - 8 - n;
  f->tensors_ = parse_header(header, f->data_size_, path, &f->metadata_);
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
  return f;
}

File::~File() {
  if (map_) ::munmap(map_, map_size_);
}

std::vector<std::string> File::names() const {
  std::vector<std::string> out;
  for (const auto& t : tensors_) out.push_back(t.name);
  return out;
}

bool File::contains(const std::string& name) const { return index_.count(name) > 0; }

const TensorInfo* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

TensorView File::get(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t)
    fail_in(path_, name, "no such tensor", "the file has " + std::to_string(tensors_.size()) + " tensors");
  return TensorView{t, data_ + t->begin};
}

// ---- checkpoints ---------------------------------------------------------------------------------

Checkpoint Checkpoint::open(const std::string& path_in) {
  Checkpoint c;
  std::string path = path_in;
  if (fs::is_directory(path)) {
    if (fs::exists(fs::path(path) / "model.safetensors.index.json"))
      path = (fs::path(path) / "model.safetensors.index.json").string();
    else if (fs::exists(fs::path(path) / "model.safetensors"))
      path = (fs::path(path) / "model.safetensors").string();
    else
      fail_in(path_in, "", "no model.safetensors or model.safetensors.index.json in this directory");
  }
  c.path_ = path;
  if (path.size() >= 5 && path.substr(path.size() - 5) == ".json") {
    std::ifstream in(path);
    if (!in) fail_in(path, "", "cannot open the checkpoint index");
    json idx;
    try {
      in >> idx;
    } catch (const json::exception& e) {
      fail_in(path, "", std::string("index is not valid JSON: ") + e.what());
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail_in(path, "weight_map", "index has no 'weight_map' object");
    if (idx.contains("metadata") && idx["metadata"].is_object()) {
      for (auto m = idx["metadata"].begin(); m != idx["metadata"].end(); ++m)
        c.metadata_[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
    }
    fs::path dir = fs::path(path).parent_path();
    std::map<std::string, size_t> shard_of_file;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail_in(path, "weight_map." + it.key(), "shard name is not a string");
      std::string shard = it.value().get<std::string>();
      auto s = shard_of_file.find(shard);
      if (s == shard_of_file.end()) {
        fs::path sp = dir / shard;
        if (!fs::exists(sp))
          fail_in(path, "weight_map." + it.key(), "shard '" + shard + "' is missing", "download every shard");
        c.shards_.push_back(File::open(sp.string()));
        s = shard_of_file.emplace(shard, c.shards_.size() - 1).first;
      }
      if (!c.shards_[s->second]->contains(it.key()))
        fail_in(c.shards_[s->second]->path(), it.key(), "the index names this tensor but the shard lacks it");
      c.where_[it.key()] = s->second;
    }
  } else {
    c.shards_.push_back(File::open(path));
    c.metadata_ = c.shards_[0]->metadata();
    for (const auto& n : c.shards_[0]->names()) c.where_[n] = 0;
  }
  return c;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& kv : where_) out.push_back(kv.first);
  return out;
}

bool Checkpoint::contains(const std::string& name) const { return where_.count(name) > 0; }

TensorView Checkpoint::get(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail_in(path_, name, "the checkpoint has no such tensor");
  return shards_[it->second]->get(name);
}

std::string Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? std::string() : shards_[it->second]->path();
}

// ---- writing -------------------------------------------------------------------------------------

void write_file(const std::string& path, const std::vector<WriteTensor>& tensors,
                const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& kv : metadata) m[kv.first] = kv.second;
    h["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") fail_in(path, t.name, "invalid tensor name");
    if (h.contains(t.name)) fail_in(path, t.name, "duplicate tensor name");
    uint64_t need = dtype_size(t.dtype);
    for (int64_t d : t.shape) {
      if (d < 0) fail_in(path, t.name, "negative dim in shape");
      need *= static_cast<uint64_t>(d);
    }
    if (need != t.nbytes)
      fail_in(path, t.name,
              "has " + std::to_string(t.nbytes) + " bytes but shape x dtype needs " + std::to_string(need));
    if (t.nbytes > 0 && t.data == nullptr) fail_in(path, t.name, "null data");
    h[t.name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string header = h.dump();
  while (header.size() % 8 != 0) header.push_back(' ');
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_in(path, "", "cannot create the file", "does the directory exist and is it writable?");
    uint8_t len[8];
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& t : tensors)
      out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
    out.flush();
    if (out) out.close();  // close can fail too (delayed allocation); the destructor would hide it
    if (!out) {
      const int err = errno;  // ENOSPC, EFBIG, EIO: say which
      std::remove(tmp.c_str());
      fail_in(path, "", std::string("write failed: ") + std::strerror(err), "is the disk full?");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail_in(path, "", "cannot rename the temporary file: " + ec.message());
  }
}

void write_index(const std::string& path, const std::map<std::string, std::string>& weight_map,
                 const std::map<std::string, std::string>& metadata) {
  json idx = {{"metadata", json::object()}, {"weight_map", json::object()}};
  for (const auto& kv : metadata) idx["metadata"][kv.first] = kv.second;
  for (const auto& kv : weight_map) idx["weight_map"][kv.first] = kv.second;
  std::ofstream out(path);
  if (!out) fail_in(path, "", "cannot create the index file");
  out << idx.dump(2) << "\n";
  if (!out) fail_in(path, "", "write failed");
}

// ---- conversions ---------------------------------------------------------------------------------

float bf16_to_float(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (absx >= 0x477ff000u)
    return static_cast<uint16_t>(sign | 0x7c00u);  // overflow (incl. inf) after rounding
  if (absx < 0x38800000u) {                        // result is subnormal or zero
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t e = absx >> 23;
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14..24 for this range (13 + (113 - e))
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t r = absx + 0xfffu + ((absx >> 13) & 1u);  // round to nearest even at bit 13
  uint32_t h = ((r >> 13) - ((127 - 15) << 10)) & 0xffffu;
  return static_cast<uint16_t>(sign | h);
}

std::vector<float> to_float32(const TensorView& t) {
  int64_t n = t.info->numel();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = t.data;
  for (int64_t i = 0; i < n; ++i) {
    float v = 0;
    switch (t.info->dtype) {
      case DType::F64: {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        v = static_cast<float>(d);
        break;
      }
      case DType::F32:
        std::memcpy(&v, p + 4 * i, 4);
        break;
      case DType::F16: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        v = f16_to_float(h);
        break;
      }
      case DType::BF16: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        v = bf16_to_float(h);
        break;
      }
      case DType::I64: {
        int64_t x;
        std::memcpy(&x, p + 8 * i, 8);
        v = static_cast<float>(x);
        break;
      }
      case DType::I32: {
        int32_t x;
        std::memcpy(&x, p + 4 * i, 4);
        v = static_cast<float>(x);
        break;
      }
      case DType::I16: {
        int16_t x;
        std::memcpy(&x, p + 2 * i, 2);
        v = static_cast<float>(x);
        break;
      }
      case DType::I8:
        v = static_cast<float>(static_cast<int8_t>(p[i]));
        break;
      case DType::U8:
        v = static_cast<float>(p[i]);
        break;
      case DType::BOOL:
        v = p[i] ? 1.f : 0.f;
        break;
    }
    out[static_cast<size_t>(i)] = v;
  }
  return out;
}

std::vector<int64_t> to_int64(const TensorView& t) {
  int64_t n = t.info->numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  const uint8_t* p = t.data;
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = 0;
    switch (t.info->dtype) {
      case DType::I64:
        std::memcpy(&v, p + 8 * i, 8);
        break;
      case DType::I32: {
        int32_t x;
        std::memcpy(&x, p + 4 * i, 4);
        v = x;
        break;
      }
      case DType::I16: {
        int16_t x;
        std::memcpy(&x, p + 2 * i, 2);
        v = x;
        break;
      }
      case DType::I8:
        v = static_cast<int8_t>(p[i]);
        break;
      case DType::U8:
        v = p[i];
        break;
      case DType::BOOL:
        v = p[i] ? 1 : 0;
        break;
      default:
        fail_in("", t.info->name,
                std::string("expected an integer tensor, got ") + dtype_name(t.info->dtype));
    }
    out[static_cast<size_t>(i)] = v;
  }
  return out;
}

}  // namespace prospect::safetensors
