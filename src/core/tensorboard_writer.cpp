// TensorBoard event files: TFRecord framing and hand-encoded protobuf (see tensorboard_writer.h).
#include "core/tensorboard_writer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/text_file.h"

namespace prospect {

namespace {

// CRC32C, reflected polynomial 0x82F63B78, byte-at-a-time table (event files are small).
struct Crc32cTable {
  uint32_t t[256];
  Crc32cTable() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
  }
};

const Crc32cTable& crc_table() {
  static const Crc32cTable table;
  return table;
}

// Protobuf wire encoding: just the field kinds Event and Summary need.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, (uint64_t(field) << 3) | wire_type);
}
void put_fixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_fixed32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string encode_event(double wall_time, int64_t step, const std::string* file_version,
                         const std::string* summary) {
  std::string ev;
  uint64_t wt;
  std::memcpy(&wt, &wall_time, 8);
  put_tag(ev, 1, 1);  // wall_time: double
  put_fixed64(ev, wt);
  put_tag(ev, 2, 0);  // step: int64
  put_varint(ev, static_cast<uint64_t>(step));
  if (file_version) put_bytes(ev, 3, *file_version);
  if (summary) put_bytes(ev, 5, *summary);
  return ev;
}

double now_seconds() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

// Bounds-checked protobuf reader for the read-back path.
struct ProtoReader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;
  bool done() const { return p >= end || !ok; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) {
        ok = false;
        return 0;
      }
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  uint64_t fixed(int n) {
    if (end - p < n) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= uint64_t(p[i]) << (8 * i);
    p += n;
    return v;
  }
  std::string bytes() {
    uint64_t n = varint();
    if (!ok || uint64_t(end - p) < n) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        break;
      case 1:
        fixed(8);
        break;
      case 2:
        bytes();
        break;
      case 5:
        fixed(4);
        break;
      default:
        ok = false;
    }
  }
};

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const auto* b = static_cast<const uint8_t*>(data);
  const auto& t = crc_table().t;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = t[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir + ": cannot create the TensorBoard directory: " + ec.message());
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  double t = now_seconds();
  // TensorBoard reads every events.out.tfevents.* file of the folder; the pid and a per-process counter keep
  // two writers started in the same second (a quick resume, two runs) from overwriting each other.
  static std::atomic<int> counter{0};
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<long long>(t)) + "." + host + "." +
          std::to_string(::getpid()) + "." + std::to_string(counter++);
  file_ = std::fopen(path_.c_str(), "wbx");
  if (!file_) fail(path_ + ": cannot open for writing: " + std::strerror(errno));
  const std::string version = "brain.Event:2";
  write_record(encode_event(t, 0, &version, nullptr));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  put_bytes(v, 1, tag);  // Summary.Value.tag
  float f = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  put_tag(v, 2, 5);  // Summary.Value.simple_value: float
  put_fixed32(v, bits);
  std::string summary;
  put_bytes(summary, 1, v);  // Summary.value
  write_record(encode_event(now_seconds(), step, nullptr, &summary));
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0) fail(path_ + ": flush failed: " + std::strerror(errno));
}

void TensorBoardWriter::write_record(const std::string& payload) {
  std::string rec;
  uint64_t len = payload.size();
  put_fixed64(rec, len);
  put_fixed32(rec, masked_crc32c(rec.data(), 8));
  rec += payload;
  put_fixed32(rec, masked_crc32c(payload.data(), payload.size()));
  if (std::fwrite(rec.data(), 1, rec.size(), file_) != rec.size())
    fail(path_ + ": write failed: " + std::strerror(errno));
}

namespace {

// One TFRecord at data[pos] (8-byte length, its masked CRC, the payload, the payload's masked CRC): the
// payload, or what is wrong with the record there.
struct Record {
  const char* payload = nullptr;
  uint64_t len = 0;
  const char* problem = nullptr;  // set when the record is torn or corrupt
  size_t size() const { return 12 + len + 4; }
};

Record record_at(const std::string& data, size_t pos) {
  auto u = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= uint64_t(static_cast<uint8_t>(data[at + i])) << (8 * i);
    return v;
  };
  Record r;
  if (data.size() - pos < 12) {
    r.problem = "truncated length header";
    return r;
  }
  r.len = u(pos, 8);
  if (uint32_t(u(pos + 8, 4)) != masked_crc32c(data.data() + pos, 8)) {
    r.problem = "length CRC mismatch";
    return r;
  }
  if (data.size() - pos - 12 < r.len + 4) {
    r.problem = "truncated payload";
    return r;
  }
  r.payload = data.data() + pos + 12;
  if (uint32_t(u(pos + 12 + r.len, 4)) != masked_crc32c(r.payload, r.len)) r.problem = "payload CRC mismatch";
  return r;
}

}  // namespace

std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path) {
  const std::string data = read_text_file(path, "cannot open");
  std::vector<TensorBoardEvent> events;
  size_t pos = 0;
  while (pos < data.size()) {
    const std::string where = path + ": record " + std::to_string(events.size());
    const Record rec = record_at(data, pos);
    if (rec.problem) fail(where + ": " + rec.problem);
    const char* payload = rec.payload;
    const uint64_t len = rec.len;
    pos += rec.size();

    TensorBoardEvent ev;
    ProtoReader r{reinterpret_cast<const uint8_t*>(payload), reinterpret_cast<const uint8_t*>(payload) + len};
    while (!r.done()) {
      uint64_t key = r.varint();
      int field = int(key >> 3), wt = int(key & 7);
      if (field == 1 && wt == 1) {
        uint64_t b = r.fixed(8);
        std::memcpy(&ev.wall_time, &b, 8);
      } else if (field == 2 && wt == 0) {
        ev.step = static_cast<int64_t>(r.varint());
      } else if (field == 3 && wt == 2) {
        ev.file_version = r.bytes();
      } else if (field == 5 && wt == 2) {
        std::string summary = r.bytes();
        ProtoReader s{reinterpret_cast<const uint8_t*>(summary.data()),
                      reinterpret_cast<const uint8_t*>(summary.data()) + summary.size()};
        while (!s.done()) {
          uint64_t sk = s.varint();
          if ((sk >> 3) != 1 || (sk & 7) != 2) {
            s.skip(int(sk & 7));
            continue;
          }
          std::string value = s.bytes();
          ProtoReader vr{reinterpret_cast<const uint8_t*>(value.data()),
                         reinterpret_cast<const uint8_t*>(value.data()) + value.size()};
          std::string tag;
          float simple = 0;
          while (!vr.done()) {
            uint64_t vk = vr.varint();
            if ((vk >> 3) == 1 && (vk & 7) == 2) {
              tag = vr.bytes();
            } else if ((vk >> 3) == 2 && (vk & 7) == 5) {
              uint32_t b = uint32_t(vr.fixed(4));
              std::memcpy(&simple, &b, 4);
            } else {
              vr.skip(int(vk & 7));
            }
          }
          if (!vr.ok) fail(where + ": malformed Summary.Value");
          ev.scalars.emplace_back(tag, simple);
        }
        if (!s.ok) fail(where + ": malformed Summary");
      } else {
        r.skip(wt);
      }
    }
    if (!r.ok) fail(where + ": malformed Event protobuf");
    events.push_back(std::move(ev));
  }
  return events;
}

int64_t truncate_tensorboard_events(const std::string& path, int64_t max_step) {
  const std::string data = read_text_file(path, "cannot open");
  std::string kept;
  int64_t dropped = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    // A record that does not frame or check is the torn tail: it and everything after it go.
    const Record rec = record_at(data, pos);
    if (rec.problem) break;
    const char* payload = rec.payload;
    const uint64_t len = rec.len;
    int64_t step = 0;
    bool version = false;
    ProtoReader r{reinterpret_cast<const uint8_t*>(payload), reinterpret_cast<const uint8_t*>(payload) + len};
    while (!r.done()) {
      const uint64_t key = r.varint();
      const int field = int(key >> 3), wt = int(key & 7);
      if (field == 2 && wt == 0) {
        step = static_cast<int64_t>(r.varint());
      } else if (field == 3 && wt == 2) {
        r.bytes();
        version = true;
      } else {
        r.skip(wt);
      }
    }
    if (r.ok && (version || step <= max_step))
      kept.append(data, pos, rec.size());
    else
      dropped++;
    pos += rec.size();
  }
  // Records past a torn tail are lost too: count them as one.
  if (pos < data.size()) dropped++;
  if (dropped == 0) return 0;
  const std::string tmp = path + ".tmp";
  write_text_file(tmp, kept);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(path + ": cannot replace with the truncated event file: " + ec.message());
  return dropped;
}

}  // namespace prospect
