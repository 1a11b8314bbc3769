#include "image_decode.hpp"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE first
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <array>
#include <csetjmp>
#include <memory>

namespace mpq {
namespace {

enum class ImageKind { Png, Jpeg };

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Result<ImageKind> sniff(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return make_error(path + ": cannot open the image");
  std::array<unsigned char, 8> magic{};
  const std::size_t n = std::fread(magic.data(), 1, magic.size(), f.get());
  if (n == 8 && png_sig_cmp(magic.data(), 0, 8) == 0) return ImageKind::Png;
  if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return ImageKind::Jpeg;
  return make_error(path + ": not a PNG or JPEG image");
}

// libpng's simplified API: no longjmp on this side; the image is read in its own channels.
struct PngReader {
  png_image image{};
  PngReader() { image.version = PNG_IMAGE_VERSION; }
  ~PngReader() { png_image_free(&image); }
};

Result<ImageHeader> png_header(const std::string& path, PngReader& r) {
  if (!png_image_begin_read_from_file(&r.image, path.c_str()))
    return make_error(path + ": unreadable PNG (" + r.image.message + ")");
  // 8 bits per channel, no palette: gray, gray+alpha, RGB or RGBA as the file holds it.
  r.image.format &= ~(PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLORMAP);
  return ImageHeader{r.image.width, r.image.height, PNG_IMAGE_SAMPLE_CHANNELS(r.image.format)};
}

Result<DecodedImage> decode_png(const std::string& path) {
  PngReader r;
  auto h = png_header(path, r);
  if (!h) return h.error();
  DecodedImage img{*h, std::vector<std::uint8_t>(PNG_IMAGE_SIZE(r.image))};
  if (!png_image_finish_read(&r.image, nullptr, img.pixels.data(), 0, nullptr))
    return make_error(path + ": corrupt PNG (" + r.image.message + ")");
  return img;
}

// libjpeg reports errors by longjmp: each step that calls it sets its own jump point, and no
// C++ object with a destructor lives between a setjmp and the libjpeg calls it guards.
struct JpegReader {
  jpeg_decompress_struct info{};
  jpeg_error_mgr errors{};
  std::jmp_buf jump{};
  char message[JMSG_LENGTH_MAX] = {};
  bool failed = false;
};

void jpeg_fail(j_common_ptr info) {
  auto* r = reinterpret_cast<JpegReader*>(info->client_data);
  (*info->err->format_message)(info, r->message);
  std::longjmp(r->jump, 1);
}

// Warnings (a truncated file, corrupt data) mean pixels that were made up: an error here.
void jpeg_warn(j_common_ptr info, int level) {
  auto* r = reinterpret_cast<JpegReader*>(info->client_data);
  if (level >= 0 || r->failed) return;
  (*info->err->format_message)(info, r->message);
  r->failed = true;
}

bool jpeg_begin(JpegReader& r, std::FILE* f) {
  if (setjmp(r.jump)) return false;
  jpeg_stdio_src(&r.info, f);
  jpeg_read_header(&r.info, TRUE);
  return true;
}

bool jpeg_read_rows(JpegReader& r, std::uint8_t* out) {
  if (setjmp(r.jump)) return false;
  jpeg_start_decompress(&r.info);
  const std::size_t row_bytes = std::size_t{r.info.output_width} * r.info.output_components;
  while (r.info.output_scanline < r.info.output_height) {
    JSAMPROW row = out + std::size_t{r.info.output_scanline} * row_bytes;
    jpeg_read_scanlines(&r.info, &row, 1);
  }
  jpeg_finish_decompress(&r.info);
  return true;
}

struct JpegSession {
  JpegReader r;
  File file;
  explicit JpegSession(std::FILE* f) : file(f) {
    r.info.err = jpeg_std_error(&r.errors);
    r.errors.error_exit = jpeg_fail;
    r.errors.emit_message = jpeg_warn;
    r.info.client_data = &r;
    jpeg_create_decompress(&r.info);
  }
  ~JpegSession() { jpeg_destroy_decompress(&r.info); }
};

Result<ImageHeader> jpeg_header(const std::string& path, JpegSession& s) {
  if (!s.file) return make_error(path + ": cannot open the image");
  if (!jpeg_begin(s.r, s.file.get()) || s.r.failed)
    return make_error(path + ": unreadable JPEG (" + s.r.message + ")");
  // Gray stays gray; every other colour space is decoded to RGB.
  if (s.r.info.jpeg_color_space != JCS_GRAYSCALE) s.r.info.out_color_space = JCS_RGB;
  const std::int64_t channels = s.r.info.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
  return ImageHeader{s.r.info.image_width, s.r.info.image_height, channels};
}

Result<DecodedImage> decode_jpeg(const std::string& path) {
  JpegSession s(std::fopen(path.c_str(), "rb"));
  auto h = jpeg_header(path, s);
  if (!h) return h.error();
  DecodedImage img{
      *h, std::vector<std::uint8_t>(static_cast<std::size_t>(h->width * h->height * h->channels))};
  if (!jpeg_read_rows(s.r, img.pixels.data()) || s.r.failed)
    return make_error(path + ": corrupt JPEG (" + s.r.message + ")");
  return img;
}

}  // namespace

Result<ImageHeader> read_image_header(const std::string& path) {
  auto kind = sniff(path);
  if (!kind) return kind.error();
  if (*kind == ImageKind::Png) {
    PngReader r;
    return png_header(path, r);
  }
  JpegSession s(std::fopen(path.c_str(), "rb"));
  return jpeg_header(path, s);
}

Result<DecodedImage> decode_image(const std::string& path) {
  auto kind = sniff(path);
  if (!kind) return kind.error();
  return *kind == ImageKind::Png ? decode_png(path) : decode_jpeg(path);
}

}  // namespace mpq
