// .npy round trips and the Fashion-MNIST reader on Debian's real files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/dataset.hpp"
#include "sim/npy.hpp"

namespace mpq {
namespace {

std::string tmp(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / "mpq_unit_tests";
  std::filesystem::create_directories(d);
  return (d / name).string();
}

TEST(Npy, RoundTripFloatAndInt) {
  Tensor f = Tensor::zeros({2, 3, 4});
  for (std::size_t k = 0; k < f.f.size(); ++k) f.f[k] = static_cast<float>(k) * 0.5f - 3.0f;
  ASSERT_TRUE(write_npy(tmp("f.npy"), f).ok());
  auto rf = read_npy(tmp("f.npy"));
  ASSERT_TRUE(rf.ok()) << rf.error().message;
  EXPECT_EQ(rf->shape, f.shape);
  EXPECT_EQ(rf->f, f.f);
  EXPECT_FALSE(std::filesystem::exists(tmp("f.npy.tmp")));

  Tensor i = Tensor::from_ints({5, -7, 1LL << 40});
  ASSERT_TRUE(write_npy(tmp("i.npy"), i).ok());
  auto ri = read_npy(tmp("i.npy"));
  ASSERT_TRUE(ri.ok());
  EXPECT_EQ(ri->i, i.i);
}

TEST(Npy, BadFilesGiveMessages) {
  EXPECT_FALSE(read_npy(tmp("does_not_exist.npy")).ok());
  std::ofstream(tmp("bad.npy")) << "hello";
  auto r = read_npy(tmp("bad.npy"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a .npy"), std::string::npos);
}

TEST(FashionMnist, TestSplitHasTenThousandLabeledImages) {
  auto spec = parse_data_spec("fashion-mnist:test");
  ASSERT_TRUE(spec.ok());
  auto set = load_dataset(*spec);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->count, 10000);
  EXPECT_EQ(set->rows, 28);
  EXPECT_EQ(set->cols, 28);
  ASSERT_EQ(set->labels.size(), 10000u);
  std::vector<int> per_class(10, 0);
  for (auto l : set->labels) {
    ASSERT_GE(l, 0);
    ASSERT_LT(l, 10);
    ++per_class[static_cast<std::size_t>(l)];
  }
  for (int c : per_class) EXPECT_EQ(c, 1000);  // the test split is balanced

  auto sub = load_dataset(*parse_data_spec("fashion-mnist:test:100+50"));
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->count, 50);
  EXPECT_EQ(sub->labels[0], set->labels[100]);

  Preprocess pre;
  pre.mean = 0.5f;
  pre.std = 0.25f;
  const Tensor x = make_batch(*set, 3, 2, pre);
  EXPECT_EQ(x.shape, (Shape{2, 1, 28, 28}));
  const float px = set->pixels[3 * 784 + 400];
  EXPECT_FLOAT_EQ(x.f[400], (px / 255.0f - 0.5f) / 0.25f);
}

TEST(FashionMnist, SpecErrors) {
  EXPECT_FALSE(parse_data_spec("imagenet:val").ok());
  EXPECT_FALSE(parse_data_spec("fashion-mnist").ok());
  EXPECT_FALSE(parse_data_spec("fashion-mnist:dev").ok());
  EXPECT_FALSE(parse_data_spec("fashion-mnist:test:abc").ok());
  setenv("MPQ_FASHION_MNIST_DIR", "/nonexistent", 1);
  auto r = load_dataset(*parse_data_spec("fashion-mnist:test"));
  unsetenv("MPQ_FASHION_MNIST_DIR");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent"), std::string::npos);
}

}  // namespace
}  // namespace mpq
