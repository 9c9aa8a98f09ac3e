// `prospect frames`: reads one frames file (Arrow IPC stream or file, or an image folder) through the same
// frame store training and streaming use, prints a JSON summary line, and with --dump writes every frame's
// encoded bytes (base64 already undone) to DIR/NNNNNN.jpg (.png, .bin by magic) and, with --pixels, its
// decoded RGB (HWC, uint8, no header) to DIR/NNNNNN.rgb. For checking frame files against other readers
// (tests/peers/check_arrow.py) and for looking at what a file holds.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "core/error.h"
#include "core/strformat.h"
#include "core/text_file.h"
#include "data/arrow_reader.h"
#include "data/frame_store.h"

namespace {

struct FramesOptions {
  std::string file;
  std::string column;
  std::string dump;
  bool pixels = false;
};

std::string extension_of(const std::string& bytes) {
  if (bytes.size() >= 2 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8) return ".jpg";
  if (bytes.size() >= 4 && bytes.compare(0, 4, "\x89PNG") == 0) return ".png";
  return ".bin";
}

std::string frame_file_name(int64_t i) { return prospect::strformat("%06lld", static_cast<long long>(i)); }

prospect::tools::Command reg(
    "frames", "Read a frames file (Arrow IPC or image folder); print a summary, optionally dump every frame",
    [](CLI::App& sub) {
      auto o = std::make_shared<FramesOptions>();
      sub.add_option("--file", o->file, "Arrow IPC frames file (stream or file format) or image folder")
          ->required()
          ->check(CLI::ExistingPath);
      sub.add_option(
          "--column", o->column,
          "Arrow column to read (utf8 = base64 images, binary = raw bytes); default `frame`, else the "
          "only binary column");
      sub.add_option("--dump", o->dump, "Write each frame's encoded bytes to DIR/NNNNNN.jpg (.png, .bin)");
      sub.add_flag("--pixels", o->pixels,
                   "With --dump, also write the decoded RGB (HWC uint8) to DIR/NNNNNN.rgb");
      return [o]() -> int {
        namespace fs = std::filesystem;
        auto store = prospect::data::open_frame_path(o->file, o->column);
        nlohmann::ordered_json summary;
        summary["path"] = store->path();
        if (fs::is_directory(o->file)) {
          summary["format"] = "image_folder";
        } else {
          auto reader = prospect::data::ArrowReader::open(o->file);
          summary["format"] = reader->is_file_format() ? "arrow_file" : "arrow_stream";
          summary["batches"] = reader->num_batches();
          nlohmann::ordered_json cols = nlohmann::ordered_json::array();
          for (const auto& f : reader->fields())
            cols.push_back({{"name", f.name}, {"type", prospect::data::arrow_type_name(f.type_id)}});
          summary["columns"] = cols;
        }
        summary["frames"] = store->num_frames();
        if (o->pixels && o->dump.empty()) prospect::fail("--pixels needs --dump DIR");
        if (!o->dump.empty()) {
          std::error_code ec;
          fs::create_directories(o->dump, ec);
          if (ec)
            prospect::fail(prospect::file_context(o->dump), "cannot create the folder: " + ec.message());
          int64_t bytes = 0;
          for (int64_t i = 0; i < store->num_frames(); i++) {
            std::string enc = store->encoded_frame(i);
            bytes += int64_t(enc.size());
            std::string base = (fs::path(o->dump) / frame_file_name(i)).string();
            prospect::write_text_file(base + extension_of(enc), enc);
            if (o->pixels) {
              prospect::vision::Image img = store->frame(i);
              prospect::write_text_file(
                  base + ".rgb", std::string(reinterpret_cast<const char*>(img.rgb.data()), img.rgb.size()));
              if (i == 0) {
                summary["height"] = img.height;
                summary["width"] = img.width;
              }
            }
          }
          summary["encoded_bytes"] = bytes;
        }
        std::printf("%s\n", summary.dump().c_str());
        return 0;
      };
    });

}  // namespace
