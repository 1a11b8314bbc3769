// Labels given beside .npy samples: read as integers, checked against the sample count and the
// bundled CNN's ten classes, and attached to the samples they label.
#include <gtest/gtest.h>

#include <filesystem>

#include "sim/label_file.hpp"
#include "sim/npy.hpp"
#include "sim/prepare.hpp"
#include "sim/sample_source.hpp"

namespace mpq {
namespace {

std::string tmp(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / "mpq_unit_tests_labels";
  std::filesystem::create_directories(d);
  return (d / name).string();
}

std::string written(const std::string& name, const Tensor& t) {
  EXPECT_TRUE(write_npy(tmp(name), t).ok());
  return tmp(name);
}

std::string error_of(const SampleSpec& spec, const Network& net) {
  auto s = open_samples(spec, net);
  return s ? std::string("(no error)") : s.error().message;
}

Network cnn() {
  auto net = load_network(std::string(MPQ_SOURCE_DIR) + "/configs/models/cnn.onnx", {}, {});
  EXPECT_TRUE(net.ok()) << net.error().message;
  return std::move(net).value();
}

TEST(LabelArray, IntegersInEitherShapeAndNothingElse) {
  auto flat = read_label_array(written("flat.npy", Tensor::from_ints({3, 0, 9})));
  ASSERT_TRUE(flat.ok()) << flat.error().message;
  EXPECT_EQ(*flat, (std::vector<std::int64_t>{3, 0, 9}));
  Tensor column = Tensor::from_ints({4, 5});
  column.shape = {2, 1};
  auto col = read_label_array(written("column.npy", column));
  ASSERT_TRUE(col.ok()) << col.error().message;
  EXPECT_EQ(*col, (std::vector<std::int64_t>{4, 5}));

  auto floats = read_label_array(written("floats.npy", Tensor::zeros({3})));
  ASSERT_FALSE(floats.ok());
  EXPECT_NE(floats.error().message.find("integer"), std::string::npos);
  EXPECT_NE(floats.error().message.find("floats.npy"), std::string::npos);
  Tensor wide = Tensor::from_ints({1, 2, 3, 4});
  wide.shape = {2, 2};
  auto w = read_label_array(written("wide.npy", wide));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("2x2"), std::string::npos) << w.error().message;
}

TEST(LabelArray, CountAndClassRangeChecked) {
  EXPECT_TRUE(check_labels({0, 9, 4}, "y.npy", 3, 10).ok());
  const auto count = check_labels({0, 1}, "y.npy", 3, 10);
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.error().message.find("2 labels for 3 samples"), std::string::npos);
  const auto high = check_labels({0, 10, 1}, "y.npy", 3, 10);
  ASSERT_FALSE(high.ok());
  EXPECT_NE(high.error().message.find("label 10 of sample 1"), std::string::npos);
  // Unknown class count: any label >= 0, never a negative one.
  EXPECT_TRUE(check_labels({0, 1000}, "y.npy", 2, std::nullopt).ok());
  EXPECT_FALSE(check_labels({0, -1}, "y.npy", 2, std::nullopt).ok());
}

TEST(LabelArray, AttachedToNpySamplesOfTheCnn) {
  const Network net = cnn();
  EXPECT_EQ(class_count(net), 10);
  const std::string x = written("x.npy", Tensor::zeros({4, 1, 28, 28}));
  auto s = open_samples(SampleSpec{x, written("y.npy", Tensor::from_ints({1, 2, 3, 9}))}, net);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->labels, (std::vector<std::int64_t>{1, 2, 3, 9}));
  EXPECT_NE(s->description.find("y.npy"), std::string::npos);

  EXPECT_NE(error_of({x, written("y3.npy", Tensor::from_ints({1, 2, 3}))}, net)
                .find("3 labels for 4 samples"),
            std::string::npos);
  EXPECT_NE(error_of({x, written("y10.npy", Tensor::from_ints({1, 2, 10, 0}))}, net)
                .find("the model scores 10 classes"),
            std::string::npos);
  EXPECT_NE(error_of({"fashion-mnist:test:4", tmp("y.npy")}, net).find("labels of its own"),
            std::string::npos);
  // Unlabeled samples stay unlabeled.
  auto bare = open_samples(SampleSpec{x, {}}, net);
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->labels.empty());
}

}  // namespace
}  // namespace mpq
