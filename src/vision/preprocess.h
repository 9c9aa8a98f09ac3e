// From a decoded frame to the vision tower's input: resize (antialiased bicubic, as PIL and the HF SmolVLM
// image processor do it), rescale by 1/255, normalise (x - 0.5) / 0.5, channels first, float32. Also a port
// of SmolVLMImageProcessor's resizing and optional splitting into tiles for still images. Not here: decoding
// (jpeg.h), tensors (the model side copies these floats into a tensor).
#pragma once
#include <vector>

#include "vision/image.h"

namespace prospect::vision {

// PIL's Image.resize(BICUBIC) for 8-bit RGB: separable (horizontal pass, then vertical), the kernel widened
// by the scale factor when shrinking (antialiasing), 22-bit fixed-point weights, uint8 between the passes.
// Throws prospect::Error when a size is not positive or the image is inconsistent.
Image resize_bicubic(const Image& in, int out_height, int out_width);

// Writes 3 * height * width floats, channels first: (v / 255 - 0.5) / 0.5 computed in float32 exactly as
// torch does, so values match the reference to the last bit.
void normalize_chw(const Image& in, float* out);

// The vision tower's input for one video frame: resized to image_size x image_size when its size differs
// (frames already at image_size are not touched), then normalize_chw. Returns 3 * image_size^2 floats.
std::vector<float> frame_pixel_values(const Image& in, int image_size);

// SmolVLMImageProcessor on one still image: the longest edge resized to `longest_edge` (the other edge made
// even), then either one max_size x max_size image, or (split) tiles of max_size in a rows x cols grid plus a
// global max_size image last. `pixels` holds num_images * 3 * max_size^2 floats; rows = cols = 0 unsplit.
struct SmolvlmImages {
  std::vector<float> pixels;
  int num_images = 0;
  int rows = 0;
  int cols = 0;
  int size = 0;
};
SmolvlmImages smolvlm_preprocess(const Image& in, int longest_edge, int max_size, bool split);

}  // namespace prospect::vision
