// Frame stores over Arrow IPC files and image folders, and the frames-file path resolution (see
// frame_store.h). Arrow stores keep the reader's mapping and decode one frame per call; image folders list
// their files once at open and read one file per call.
#include "data/frame_store.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "core/text_file.h"
#include "data/arrow_reader.h"
#include "data/base64.h"
#include "vision/image.h"

namespace fs = std::filesystem;

namespace prospect::data {

FrameStore::~FrameStore() = default;

std::vector<Image> FrameStore::frames(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > num_frames())
    fail(file_context(path()), "frames [" + std::to_string(begin) + ", " + std::to_string(end) +
                                   ") out of range [0, " + std::to_string(num_frames()) + ")");
  std::vector<Image> out;
  out.reserve(size_t(end - begin));
  for (int64_t i = begin; i < end; i++) out.push_back(frame(i));
  return out;
}

namespace {

std::string frame_name(int64_t i) { return "frame " + std::to_string(i); }

// ---- Arrow ---------------------------------------------------------------------------------------
class ArrowFrameStore : public FrameStore {
 public:
  ArrowFrameStore(std::unique_ptr<ArrowReader> r, const std::string& column) : reader_(std::move(r)) {
    const auto& fields = reader_->fields();
    if (!column.empty()) {
      column_ = reader_->column_index(column);
      if (column_ < 0) fail(file_context(reader_->path(), column), "no column named '" + column + "'");
    } else {
      column_ = reader_->column_index("frame");
    }
    if (column_ < 0) {
      // No `frame` column: accept a single binary column of raw JPEG bytes.
      for (size_t i = 0; i < fields.size(); i++) {
        int t = fields[i].type_id;
        if (!fields[i].dictionary && (t == int(ArrowType::Binary) || t == int(ArrowType::LargeBinary))) {
          if (column_ >= 0) {
            column_ = -2;
            break;
          }
          column_ = int(i);
        }
      }
    }
    if (column_ < 0) {
      std::string names;
      for (const auto& f : fields)
        names += (names.empty() ? "" : ", ") + f.name + " (" + arrow_type_name(f.type_id) + ")";
      fail(file_context(reader_->path()),
           "no frame column: expected `frame` (base64 JPEG string or binary) or one "
           "binary column; columns are: " +
               (names.empty() ? "none" : names));
    }
    const ArrowField& f = fields[size_t(column_)];
    if (!f.is_binary_like())
      fail(file_context(reader_->path(), f.name),
           "frame column is " + std::string(f.dictionary ? "dictionary-encoded " : "") +
               arrow_type_name(f.type_id) + ", expected utf8 (base64 JPEG) or binary (raw JPEG)");
    base64_ = f.type_id == int(ArrowType::Utf8) || f.type_id == int(ArrowType::LargeUtf8);
  }

  int64_t num_frames() const override { return reader_->num_rows(); }
  std::string path() const override { return reader_->path(); }

  std::string encoded_frame(int64_t index) const override {
    std::string_view v = raw(index);
    if (!base64_) return std::string(v);
    std::string out;
    decode_base64(v, index, out);
    return out;
  }

  Image frame(int64_t index) const override {
    std::string_view v = raw(index);
    ErrorContext ctx = file_context(reader_->path(), reader_->fields()[size_t(column_)].name);
    if (!base64_)
      return vision::decode_image(reinterpret_cast<const uint8_t*>(v.data()), v.size(), ctx,
                                  frame_name(index));
    // One scratch buffer per thread: loader threads decode many frames of similar size.
    thread_local std::string scratch;
    scratch.clear();
    decode_base64(v, index, scratch);
    return vision::decode_image(reinterpret_cast<const uint8_t*>(scratch.data()), scratch.size(), ctx,
                                frame_name(index));
  }

 private:
  std::string_view raw(int64_t index) const {
    if (index < 0 || index >= reader_->num_rows())
      fail(file_context(reader_->path()), frame_name(index) + " out of range: the file has " +
                                              std::to_string(reader_->num_rows()) + " frames");
    return reader_->value(index, column_);
  }

  void decode_base64(std::string_view v, int64_t index, std::string& out) const {
    if (!base64_decode(v, out))
      fail(file_context(reader_->path(), reader_->fields()[size_t(column_)].name),
           frame_name(index) + ": not valid base64 (" + std::to_string(v.size()) + " characters)",
           "the `frame` column must hold base64 JPEG strings");
  }

  std::unique_ptr<ArrowReader> reader_;
  int column_ = -1;
  bool base64_ = true;
};

// ---- image folder --------------------------------------------------------------------------------
class ImageFolderStore : public FrameStore {
 public:
  explicit ImageFolderStore(const std::string& dir) : dir_(dir) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) fail(file_context(dir), "cannot list the image folder: " + ec.message());
    for (const auto& entry : it) {
      std::string name = entry.path().filename().string();
      size_t dot = name.rfind('.');
      if (dot == std::string::npos || dot == 0 || dot > 18) continue;
      std::string ext = name.substr(dot + 1);
      for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (ext != "jpg" && ext != "jpeg" && ext != "png") continue;
      bool digits = true;
      for (size_t i = 0; i < dot; i++) digits = digits && std::isdigit(static_cast<unsigned char>(name[i]));
      if (!digits) continue;
      int64_t row = std::stoll(name.substr(0, dot));
      if (row >= int64_t(files_.size())) files_.resize(size_t(row) + 1);
      if (!files_[size_t(row)].empty())
        fail(file_context(dir),
             "two files for frame " + std::to_string(row) + ": " + files_[size_t(row)] + " and " + name);
      files_[size_t(row)] = name;
    }
    if (files_.empty())
      fail(file_context(dir), "image folder holds no frames (expected files like 000000.jpg or 000000.png)");
  }

  int64_t num_frames() const override { return int64_t(files_.size()); }
  std::string path() const override { return dir_; }

  std::string encoded_frame(int64_t index) const override {
    if (index < 0 || index >= num_frames())
      fail(file_context(dir_),
           frame_name(index) + " out of range: the folder has frames 0.." + std::to_string(num_frames() - 1));
    if (files_[size_t(index)].empty())
      fail(file_context(dir_), frame_name(index) + ": no file for it (the folder skips this number)");
    std::string file = (fs::path(dir_) / files_[size_t(index)]).string();
    return read_text_file(file, frame_name(index) + ": cannot open");
  }

  Image frame(int64_t index) const override {
    std::string bytes = encoded_frame(index);
    std::string file = (fs::path(dir_) / files_[size_t(index)]).string();
    return vision::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                file_context(file), frame_name(index));
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;  // by row; empty where the number is missing
};

std::string strip_assembly_prefix(const std::string& uid) {
  for (const char* prefix : {"assembly_", "disassembly_"}) {
    size_t n = std::char_traits<char>::length(prefix);
    if (uid.size() > n && uid.compare(0, n, prefix) == 0) return uid.substr(n);
  }
  return uid;
}

}  // namespace

std::unique_ptr<FrameStore> open_frame_path(const std::string& path, const std::string& column) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(file_context(path), "frames file not found");
  if (fs::is_directory(st)) return std::make_unique<ImageFolderStore>(path);
  return std::make_unique<ArrowFrameStore>(ArrowReader::open(path), column);
}

std::vector<std::string> frame_store_candidates(const std::string& data_root, const std::string& frames_file,
                                                const std::string& video_uid, const std::string& dataset) {
  std::vector<std::string> out;
  auto add = [&out](const fs::path& p) {
    std::string s = p.lexically_normal().string();
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  fs::path root(data_root.empty() ? "." : data_root);
  fs::path ff(frames_file);
  if (!frames_file.empty()) add(ff.is_absolute() ? ff : root / ff);
  std::vector<std::string> names;
  if (!video_uid.empty()) {
    // ProAssist names Assembly101 frame files without the assembly_/disassembly_ prefix of the video id.
    names.push_back(strip_assembly_prefix(video_uid) + ".arrow");
    names.push_back(video_uid + ".arrow");
  }
  if (!frames_file.empty() && !ff.is_absolute()) {
    for (const auto& n : names) add(root / ff.parent_path() / n);
    if (!dataset.empty()) add(root / dataset / ff);
  }
  for (const auto& n : names) {
    if (!dataset.empty()) add(root / dataset / "frames" / n);
    add(root / "frames" / n);
  }
  return out;
}

std::unique_ptr<FrameStore> open_frame_store(const std::string& data_root, const std::string& frames_file,
                                             const std::string& video_uid, const std::string& dataset) {
  std::vector<std::string> tried = frame_store_candidates(data_root, frames_file, video_uid, dataset);
  for (const auto& p : tried) {
    std::error_code ec;
    if (fs::exists(p, ec)) return open_frame_path(p);
  }
  std::string list;
  for (const auto& p : tried) list += (list.empty() ? "" : ", ") + p;
  ErrorContext ctx;
  ctx.video_uid = video_uid;
  ctx.field = "frames_file";
  fail(ctx,
       "frames file not found; tried: " +
           (list.empty() ? std::string("nothing (no frames_file, no video_uid)") : list),
       "check --data-root (or --frames-root) and the clip's frames_file");
}

}  // namespace prospect::data
