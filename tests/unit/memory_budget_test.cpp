// The memory budget (issue 26): sizes as users write them, and checks that refuse before
// allocating.
#include "core/memory_budget.hpp"

#include <gtest/gtest.h>

#include <string>

#include "prepared_network.hpp"
#include "sim/memory_plan.hpp"

namespace mpq {
namespace {

TEST(MemoryBudget, ParsesSizes) {
  const std::pair<const char*, std::int64_t> ok[] = {
      {"2000000", 2000000}, {"512K", 512 << 10},
      {"512M", 512 << 20},  {"8G", std::int64_t{8} << 30},
      {"1.5GiB", 3 << 29},  {"2t", std::int64_t{2} << 40},
      {"64MB", 64 << 20}};
  for (const auto& [text, bytes] : ok) {
    auto b = parse_byte_size(text);
    ASSERT_TRUE(b) << text << ": " << b.error().message;
    EXPECT_EQ(*b, bytes) << text;
  }
  for (const char* bad : {"", "lots", "4X", "-1G", "0", "1e30G", "G", "4 G B"})
    EXPECT_FALSE(parse_byte_size(bad)) << bad;
}

TEST(MemoryBudget, ChecksAgainstTheBudgetAndOverflow) {
  const std::int64_t before = memory_budget();
  set_memory_budget(1 << 20);
  EXPECT_TRUE(check_memory(1 << 20, "x"));
  const auto over = check_memory((1 << 20) + 1, "tensor 'x'");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message,
            "tensor 'x' needs 1.00 MiB, more than the memory budget of 1.00 MiB (--max-memory "
            "sets it)");
  EXPECT_EQ(checked_bytes(std::int64_t{1} << 62, 4), -1);
  EXPECT_FALSE(check_memory(checked_bytes(std::int64_t{1} << 62, 4), "y"));
  set_memory_budget(before);
}

// The plan counts what the engine keeps: weights once, every activation once per sample.
TEST(MemoryBudget, BatchPlanGrowsWithTheBatch) {
  const Network net = test::prepared(test::bundled_model("cnn"));
  const MemoryPlan p = memory_plan(net);
  EXPECT_GT(p.weight_bytes, 0);
  EXPECT_GT(p.activation_bytes_per_sample, 4 * 28 * 28);
  EXPECT_EQ(p.bytes_at(10) - p.bytes_at(0), 10 * p.activation_bytes_per_sample);
  const std::int64_t before = memory_budget();
  set_memory_budget(p.bytes_at(4));
  EXPECT_TRUE(check_batch_memory(net, 4, "data"));
  const auto st = check_batch_memory(net, 5, "data");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("data: a run in batches of 5"), std::string::npos);
  set_memory_budget(before);
}

}  // namespace
}  // namespace mpq
