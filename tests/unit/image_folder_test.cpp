// Image folders: listing (class sub-folders, a labels CSV, and what does not match), decoding
// with libpng and libjpeg-turbo, the declared preprocessing worked by hand, and the folder as
// streamed samples of the bundled CNN. The PNGs are written here with libpng's own writer.
#include <gtest/gtest.h>
#include <png.h>

#include <filesystem>
#include <fstream>

#include "sim/image_folder.hpp"
#include "sim/image_preprocess.hpp"
#include "sim/prepare.hpp"
#include "sim/sample_source.hpp"

namespace mpq {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / "mpq_unit_tests_images" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// An 8-bit PNG of `channels` (1 gray, 3 RGB) holding `px` (height x width x channels).
void write_png(const fs::path& path, int width, int height, int channels,
               const std::vector<std::uint8_t>& px) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(width);
  img.height = static_cast<png_uint_32>(height);
  img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  ASSERT_TRUE(png_image_write_to_file(&img, path.c_str(), 0, px.data(), 0, nullptr)) << img.message;
}

std::vector<std::uint8_t> ramp(int n, int step) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) v[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(k * step);
  return v;
}

std::string error_of(const Result<ImageFolder>& r) {
  return r ? std::string("(no error)") : r.error().message;
}

TEST(ImageFolder, ClassSubFoldersInSortedOrder) {
  const fs::path d = fresh_dir("classes");
  for (const char* cls : {"shirt", "bag", "coat"}) {
    fs::create_directories(d / cls);
    for (const char* name : {"b.png", "a.PNG"}) write_png(d / cls / name, 2, 2, 1, ramp(4, 1));
  }
  std::ofstream(d / "bag" / "notes.txt") << "not an image";
  auto f = list_image_folder(d.string(), "");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->classes, (std::vector<std::string>{"bag", "coat", "shirt"}));
  EXPECT_EQ(f->labels, (std::vector<std::int64_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(fs::path(f->files[0]).filename(), "a.PNG");
  EXPECT_EQ(fs::path(f->files[5]).parent_path().filename(), "shirt");
  EXPECT_NE(error_of(list_image_folder(d.string(), "labels.csv")).find("is for a flat folder"),
            std::string::npos);
}

TEST(ImageFolder, LabelsCsvMustMatchTheFiles) {
  const fs::path d = fresh_dir("flat");
  for (const char* name : {"x.png", "y.png", "z.png"}) write_png(d / name, 2, 2, 1, ramp(4, 1));
  const fs::path csv = d.parent_path() / "flat.csv";
  std::ofstream(csv) << "file,label\nz.png,4\nx.png,0\ny.png,7\n";
  auto f = list_image_folder(d.string(), csv.string());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(fs::path(f->files[0]).filename(), "z.png");  // the CSV's order
  EXPECT_EQ(f->labels, (std::vector<std::int64_t>{4, 0, 7}));

  std::ofstream(csv) << "x.png,0\ny.png,1\n";
  EXPECT_NE(error_of(list_image_folder(d.string(), csv.string())).find("'z.png'"),
            std::string::npos);
  std::ofstream(csv) << "x.png,0\ny.png,1\nz.png,2\nw.png,3\n";
  EXPECT_NE(error_of(list_image_folder(d.string(), csv.string())).find("flat.csv:4: 'w.png'"),
            std::string::npos);
  std::ofstream(csv) << "x.png,0\ny.png,one\nz.png,2\n";
  EXPECT_NE(error_of(list_image_folder(d.string(), csv.string())).find("not an integer"),
            std::string::npos);
  // Unlabeled: every image, by name.
  auto bare = list_image_folder(d.string(), "");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->files.size(), 3u);
  EXPECT_TRUE(bare->labels.empty());

  EXPECT_NE(error_of(list_image_folder(fresh_dir("empty").string(), "")).find("holds no images"),
            std::string::npos);
  fs::create_directories(d / "sub");
  write_png(d / "sub" / "q.png", 2, 2, 1, ramp(4, 1));
  EXPECT_NE(error_of(list_image_folder(d.string(), "")).find("images and sub-folders"),
            std::string::npos);
}

TEST(ImageDecode, ErrorsNameTheFile) {
  const fs::path d = fresh_dir("bad");
  std::ofstream(d / "text.png") << "hello";
  auto text = decode_image((d / "text.png").string());
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("text.png: not a PNG or JPEG"), std::string::npos);
  write_png(d / "good.png", 8, 8, 3, ramp(192, 1));
  std::ifstream in(d / "good.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(d / "cut.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto cut = decode_image((d / "cut.png").string());
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("cut.png"), std::string::npos);
  auto good = decode_image((d / "good.png").string());
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->header.channels, 3);
  EXPECT_EQ(good->pixels, ramp(192, 1));
}

// A 4 x 6 RGB image, R = 10 + x, G = 100 + 10 y, B = 200: resized to shorter side 2 (2 x 3),
// centre crop 2 (columns 0-1), BGR, (p - mean[c]) / std[c] with scale 1 (all exact in float);
// CHW and HWC.
TEST(ImagePreprocess, ResizeCropChannelsAndNormalizationByHand) {
  DecodedImage img{{6, 4, 3}, {}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      for (int v : {10 + x, 100 + 10 * y, 200}) img.pixels.push_back(static_cast<std::uint8_t>(v));
  ImagePreprocess p;
  p.resize = 2;
  p.crop = 2;
  p.scale = 1.0f;
  p.channels = "BGR";
  p.mean = {0.0f, 100.0f, 10.0f};
  p.std = {1.0f, 2.0f, 1.0f};
  auto shape = image_sample_shape(p, img.header, "img");
  ASSERT_TRUE(shape.ok()) << shape.error().message;
  EXPECT_EQ(*shape, (Shape{3, 2, 2}));
  std::vector<float> out(12);
  preprocess_image(img, p, *shape, out);
  // Resized 2 x 3: source x = (x + 0.5) * 2 - 0.5 = 0.5, 2.5 for the crop's columns 0, 1 (left
  // offset (3 - 2) / 2 = 0); source y = 0.5, 2.5. R: 10.5, 12.5; G: 105, 125; B: 200.
  const std::vector<float> want = {200,  200,  200,   200,    // B, mean 0, std 1
                                   2.5f, 2.5f, 12.5f, 12.5f,  // G: (g - 100) / 2
                                   0.5f, 2.5f, 0.5f,  2.5f};  // R: r - 10
  EXPECT_EQ(out, want);
  p.layout = "NHWC";
  auto hwc = image_sample_shape(p, img.header, "img");
  ASSERT_TRUE(hwc.ok());
  EXPECT_EQ(*hwc, (Shape{2, 2, 3}));
  preprocess_image(img, p, *hwc, out);
  EXPECT_EQ(out, (std::vector<float>{200, 2.5f, 0.5f, 200, 2.5f, 2.5f, 200, 12.5f, 0.5f, 200, 12.5f,
                                     2.5f}));
  p.crop = 3;
  EXPECT_FALSE(image_sample_shape(p, img.header, "img").ok());
  p.crop = 0;
  p.channels = "gray";
  auto gray = image_sample_shape(p, img.header, "img");
  ASSERT_FALSE(gray.ok());
  EXPECT_NE(gray.error().message.find("img: has 3 channels, but the model takes 1"),
            std::string::npos);
}

// The CNN's folder samples: its metadata's preprocessing, each batch decoded when asked for.
TEST(ImageFolder, StreamsSamplesOfTheCnn) {
  auto net = load_network(std::string(MPQ_SOURCE_DIR) + "/configs/models/cnn.onnx", {}, {});
  ASSERT_TRUE(net.ok()) << net.error().message;
  const fs::path d = fresh_dir("cnn");
  for (int k = 0; k < 5; ++k) {
    fs::create_directories(d / std::to_string(k % 2 ? 7 : 3));
    write_png(d / std::to_string(k % 2 ? 7 : 3) / ("i" + std::to_string(k) + ".png"), 28, 28, 1,
              std::vector<std::uint8_t>(784, static_cast<std::uint8_t>(40 * k)));
  }
  auto s = open_samples(d.string(), *net);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->count, 5);
  EXPECT_EQ(s->labels, (std::vector<std::int64_t>{0, 0, 0, 1, 1}));  // "3" then "7"
  auto b = s->batch(3, 2);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->shape, (Shape{2, 1, 28, 28}));
  auto pre = image_preprocess_for(*net, {});
  ASSERT_TRUE(pre.ok());
  const float a = pre->scale / pre->std[0], off = -pre->mean[0] / pre->std[0];
  EXPECT_EQ(b->f[0], std::fma(a, 40.0f, off));     // i1.png, the first of class "7"
  EXPECT_EQ(b->f[784], std::fma(a, 120.0f, off));  // i3.png
  // An image that breaks after opening is an error of the batch that reads it, by name.
  std::ofstream(d / "7" / "i3.png") << "gone";
  auto broken = s->batch(3, 2);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("i3.png"), std::string::npos);
}

}  // namespace
}  // namespace mpq
