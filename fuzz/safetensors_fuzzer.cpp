// libFuzzer target: arbitrary bytes as a .safetensors file, opened through a memfd (the reader maps a path)
// and every tensor converted to float. The contract under test: a header that lies about lengths, offsets,
// shapes or dtypes is a prospect::Error, and no tensor view reaches past the mapping.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"

namespace {

// The file's bytes under a path the reader can open, without touching the disk.
std::string memfd_path(const uint8_t* data, size_t size, int& fd) {
  fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0) return "";
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace st = prospect::safetensors;
  int fd = -1;
  const std::string path = memfd_path(data, size, fd);
  if (path.empty()) return 0;
  try {
    std::shared_ptr<st::File> f = st::File::open(path);
    for (const std::string& name : f->names()) {
      st::TensorView v = f->get(name);
      if (v.info->nbytes() <= (1u << 20)) st::to_float32(v);
    }
  } catch (const prospect::Error&) {
  }
  close(fd);
  // The header parser alone, against a data size taken from the input, reaches checks the file path cannot.
  if (size >= 8) {
    uint64_t data_size = 0;
    for (int i = 7; i >= 0; --i) data_size = (data_size << 8) | data[i];
    try {
      std::map<std::string, std::string> meta;
      st::parse_header(std::string(reinterpret_cast<const char*>(data + 8), size - 8), data_size, "fuzz",
                       &meta);
    } catch (const prospect::Error&) {
    }
  }
  return 0;
}
