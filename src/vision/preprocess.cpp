// Resize and normalisation for the vision tower (see preprocess.h). The resize follows PIL's resampling
// arithmetic (Resample.c: coefficient windows, 22-bit fixed point, clamping) so that frames and still images
// come out as the Python reference computes them; only the bicubic filter is implemented because that is what
// the HF processors use (torchvision has no LANCZOS, so transformers falls back to bicubic).
#include "vision/preprocess.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace prospect::vision {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's choice: leaves room for the sum of 8-bit products

double bicubic(double x) {
  const double a = -0.5;  // PIL's (and torch's antialiased) bicubic constant
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

// For each output pixel, the first input pixel of its window and its fixed-point weights.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first;  // out_size
  std::vector<int> count;  // out_size
  std::vector<int32_t> k;  // out_size * ksize
};

Coeffs make_coeffs(int in_size, int out_size) {
  const double support0 = 2.0;
  double scale = double(in_size) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;  // widen the kernel only when shrinking
  double support = support0 * filterscale;
  Coeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.first.resize(size_t(out_size));
  c.count.resize(size_t(out_size));
  c.k.assign(size_t(out_size) * size_t(c.ksize), 0);
  std::vector<double> w(size_t(c.ksize));
  for (int xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    // PIL rounds with a cast (toward zero) after adding 0.5; keep it identical.
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0;
    for (int x = 0; x < xmax; x++) {
      w[size_t(x)] = bicubic((x + xmin - center + 0.5) * ss);
      ww += w[size_t(x)];
    }
    for (int x = 0; x < xmax; x++) {
      double v = ww != 0.0 ? w[size_t(x)] / ww : w[size_t(x)];
      c.k[size_t(xx) * size_t(c.ksize) + size_t(x)] =
          int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[size_t(xx)] = xmin;
    c.count[size_t(xx)] = xmax;
  }
  return c;
}

// The weights are normalised so a sum of 8-bit products stays inside int32: PIL accumulates in int too.
inline uint8_t clip8(int32_t v) {
  if (v >= (int32_t(1) << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

// Horizontal pass: every row of `in` (h x in_w) to out_w columns.
void resample_rows(const uint8_t* in, int h, int in_w, uint8_t* out, int out_w, const Coeffs& c) {
  for (int y = 0; y < h; y++) {
    const uint8_t* row = in + size_t(y) * size_t(in_w) * 3;
    uint8_t* orow = out + size_t(y) * size_t(out_w) * 3;
    for (int xx = 0; xx < out_w; xx++) {
      const int32_t* k = &c.k[size_t(xx) * size_t(c.ksize)];
      int n = c.count[size_t(xx)];
      const uint8_t* p = row + size_t(c.first[size_t(xx)]) * 3;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < n; x++) {
        s0 += int32_t(p[3 * x + 0]) * k[x];
        s1 += int32_t(p[3 * x + 1]) * k[x];
        s2 += int32_t(p[3 * x + 2]) * k[x];
      }
      orow[size_t(xx) * 3 + 0] = clip8(s0);
      orow[size_t(xx) * 3 + 1] = clip8(s1);
      orow[size_t(xx) * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical pass: `in` (in_h x w) to out_h rows. Whole rows at a time so the inner loop runs along memory.
void resample_cols(const uint8_t* in, int w, uint8_t* out, int out_h, const Coeffs& c) {
  size_t stride = size_t(w) * 3;
  std::vector<int32_t> acc(stride);
  for (int yy = 0; yy < out_h; yy++) {
    const int32_t* k = &c.k[size_t(yy) * size_t(c.ksize)];
    int ymin = c.first[size_t(yy)], n = c.count[size_t(yy)];
    for (size_t xc = 0; xc < stride; xc++) acc[xc] = 1 << (kPrecisionBits - 1);
    for (int y = 0; y < n; y++) {
      const uint8_t* row = in + size_t(ymin + y) * stride;
      int32_t ky = k[y];
      for (size_t xc = 0; xc < stride; xc++) acc[xc] += int32_t(row[xc]) * ky;
    }
    uint8_t* orow = out + size_t(yy) * stride;
    for (size_t xc = 0; xc < stride; xc++) orow[xc] = clip8(acc[xc]);
  }
}

void check_image(const Image& in, const char* what) {
  if (in.width <= 0 || in.height <= 0 || in.rgb.size() != size_t(in.width) * size_t(in.height) * 3)
    fail(std::string(what) + ": image of " + std::to_string(in.width) + "x" + std::to_string(in.height) +
         " with " + std::to_string(in.rgb.size()) + " bytes is not a valid RGB image");
}

// torch's float32 arithmetic for x.float() / 255 then (x - 0.5) / 0.5, one entry per byte value.
struct NormTable {
  float v[256];
  NormTable() {
    for (int i = 0; i < 256; i++) {
      float x = float(i) / 255.0f;
      v[i] = (x - 0.5f) / 0.5f;
    }
  }
};
const NormTable kNorm;

Image crop(const Image& in, int y0, int x0, int h, int w) {
  Image out;
  out.height = h;
  out.width = w;
  out.rgb.resize(size_t(h) * size_t(w) * 3);
  for (int y = 0; y < h; y++)
    std::memcpy(&out.rgb[size_t(y) * size_t(w) * 3],
                &in.rgb[(size_t(y0 + y) * size_t(in.width) + size_t(x0)) * 3], size_t(w) * 3);
  return out;
}

}  // namespace

Image resize_bicubic(const Image& in, int out_height, int out_width) {
  check_image(in, "resize_bicubic");
  if (out_height <= 0 || out_width <= 0)
    fail("resize_bicubic: output size " + std::to_string(out_height) + "x" + std::to_string(out_width) +
         " is not positive");
  if (out_height == in.height && out_width == in.width) return in;
  // PIL skips a pass whose size does not change; that pass would be the identity anyway only up to rounding,
  // so skipping it matters for exactness.
  Image tmp;
  const Image* src = &in;
  if (out_width != in.width) {
    Coeffs c = make_coeffs(in.width, out_width);
    tmp.height = in.height;
    tmp.width = out_width;
    tmp.rgb.resize(size_t(in.height) * size_t(out_width) * 3);
    resample_rows(in.rgb.data(), in.height, in.width, tmp.rgb.data(), out_width, c);
    src = &tmp;
  }
  if (out_height == src->height) return tmp;
  Coeffs c = make_coeffs(src->height, out_height);
  Image out;
  out.height = out_height;
  out.width = src->width;
  out.rgb.resize(size_t(out_height) * size_t(out.width) * 3);
  resample_cols(src->rgb.data(), src->width, out.rgb.data(), out_height, c);
  return out;
}

void normalize_chw(const Image& in, float* out) {
  check_image(in, "normalize_chw");
  size_t plane = size_t(in.height) * size_t(in.width);
  const uint8_t* p = in.rgb.data();
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  for (size_t i = 0; i < plane; i++) {
    r[i] = kNorm.v[p[3 * i + 0]];
    g[i] = kNorm.v[p[3 * i + 1]];
    b[i] = kNorm.v[p[3 * i + 2]];
  }
}

std::vector<float> frame_pixel_values(const Image& in, int image_size) {
  check_image(in, "frame_pixel_values");
  if (image_size <= 0)
    fail("frame_pixel_values: image_size " + std::to_string(image_size) + " is not positive");
  std::vector<float> out(size_t(3) * size_t(image_size) * size_t(image_size));
  if (in.height == image_size && in.width == image_size) {
    normalize_chw(in, out.data());
  } else {
    normalize_chw(resize_bicubic(in, image_size, image_size), out.data());
  }
  return out;
}

SmolvlmImages smolvlm_preprocess(const Image& in, int longest_edge, int max_size, bool split) {
  check_image(in, "smolvlm_preprocess");
  if (longest_edge <= 0 || max_size <= 0)
    fail("smolvlm_preprocess: longest_edge " + std::to_string(longest_edge) + " and max_size " +
         std::to_string(max_size) + " must be positive");
  // 1. Longest edge to `longest_edge`, the other edge by the aspect ratio, truncated, then made even
  //    (transformers' _resize_output_size_rescale_to_max_len), capped at 4096.
  int h = in.height, w = in.width;
  double aspect = double(w) / h;
  if (w >= h) {
    w = longest_edge;
    h = int(w / aspect);
    if (h % 2) h++;
  } else {
    h = longest_edge;
    w = int(h * aspect);
    if (w % 2) w++;
  }
  h = h < 1 ? 1 : h;
  w = w < 1 ? 1 : w;
  const int kMaxImage = 4096;
  aspect = double(w) / h;
  if (w >= h && w > kMaxImage) {
    w = kMaxImage;
    h = int(w / aspect);
  } else if (h > w && h > kMaxImage) {
    h = kMaxImage;
    w = int(h * aspect);
  }
  h = h < 1 ? 1 : h;
  w = w < 1 ? 1 : w;
  Image img = resize_bicubic(in, h, w);

  SmolvlmImages out;
  out.size = max_size;
  size_t per = size_t(3) * size_t(max_size) * size_t(max_size);
  std::vector<Image> parts;
  if (split) {
    // 2. Each edge up to a multiple of max_size, keeping the aspect ratio for the shorter one.
    aspect = double(w) / h;
    int eh, ew;
    if (w >= h) {
      ew = (w + max_size - 1) / max_size * max_size;
      eh = int(ew / aspect);
      eh = (eh + max_size - 1) / max_size * max_size;
    } else {
      eh = (h + max_size - 1) / max_size * max_size;
      ew = int(eh * aspect);
      ew = (ew + max_size - 1) / max_size * max_size;
    }
    img = resize_bicubic(img, eh, ew);
    if (eh > max_size || ew > max_size) {
      out.rows = eh / max_size;
      out.cols = ew / max_size;
      for (int r = 0; r < out.rows; r++)
        for (int c = 0; c < out.cols; c++)
          parts.push_back(crop(img, r * max_size, c * max_size, max_size, max_size));
    }
  }
  // The global image (or the only one): squared to max_size.
  parts.push_back(resize_bicubic(img, max_size, max_size));
  out.num_images = int(parts.size());
  out.pixels.resize(per * parts.size());
  for (size_t i = 0; i < parts.size(); i++) normalize_chw(parts[i], out.pixels.data() + i * per);
  return out;
}

}  // namespace prospect::vision
