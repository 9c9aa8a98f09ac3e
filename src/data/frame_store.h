// Frame stores: random access to one video's frames, decoded to RGB (data.md §3). Backed by an Arrow IPC
// stream or file (a base64-JPEG `frame` column, or a binary column of raw JPEG bytes) or by an image folder
// (DIR/000123.jpg or .png, row = file number). Not here: resizing and normalisation (vision/preprocess.h).
// Stores are immutable after opening; const reads are safe from several loader threads at once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vision/image.h"

namespace prospect::data {

using Image = vision::Image;  // HWC, RGB, uint8

class FrameStore {
 public:
  virtual ~FrameStore();
  // Number of frames (rows) in the store.
  virtual int64_t num_frames() const = 0;
  // Frame `index` decoded to RGB. Throws prospect::Error naming the file and the index when the index is out
  // of range or the picture is corrupt.
  virtual Image frame(int64_t index) const = 0;
  // The encoded bytes of frame `index` (JPEG or PNG, base64 already undone); same errors as frame().
  virtual std::string encoded_frame(int64_t index) const = 0;
  // Frames [begin, end) decoded, in order; decodes only those frames. Errors as frame().
  virtual std::vector<Image> frames(int64_t begin, int64_t end) const;
  // The file or folder this store reads.
  virtual std::string path() const = 0;
};

// Opens the frames at `path`: a directory is an image folder; a file is Arrow IPC (stream or file format,
// told apart by its magic). Throws prospect::Error naming the path when it is absent or not a frames file.
// `column` names the Arrow column to read (utf8 = base64 images, binary = raw bytes; large_* too); empty:
// `frame`, else the file's only binary column. Image folders ignore it.
std::unique_ptr<FrameStore> open_frame_path(const std::string& path, const std::string& column = "");

// The paths open_frame_store tries, in order, without duplicates: data_root/frames_file, then the ProAssist
// naming (DATASET/frames/NAME.arrow and frames/NAME.arrow under data_root, where NAME is the video id, and
// for Assembly101 also the id without its `assembly_` / `disassembly_` prefix). `dataset` may be empty.
std::vector<std::string> frame_store_candidates(const std::string& data_root, const std::string& frames_file,
                                                const std::string& video_uid,
                                                const std::string& dataset = "");

// Opens the first candidate that exists. A missing file is one prospect::Error naming every path tried.
std::unique_ptr<FrameStore> open_frame_store(const std::string& data_root, const std::string& frames_file,
                                             const std::string& video_uid, const std::string& dataset = "");

}  // namespace prospect::data
