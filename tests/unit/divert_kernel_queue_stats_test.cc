// /proc/net/netfilter/nfnetlink_queue lines as numbers.
#include <gtest/gtest.h>

#include "divert/linux/kernel_queue_stats.hh"

namespace badlink {
namespace {

TEST(DivertKernelQueueStats, ParsesEveryField) {
  const auto all = parse_kernel_queue_stats(
      " 4200  12345     3 2 65535    10    20   777 1\n"
      " 4201  12345     0 2 65535     0     5    42 1\n");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].queue, 4200);
  EXPECT_EQ(all[0].peer_portid, 12345u);
  EXPECT_EQ(all[0].queue_total, 3u);
  EXPECT_EQ(all[0].copy_mode, 2u);
  EXPECT_EQ(all[0].copy_range, 65535u);
  EXPECT_EQ(all[0].queue_dropped, 10u);
  EXPECT_EQ(all[0].user_dropped, 20u);
  EXPECT_EQ(all[0].id_sequence, 777u);
  EXPECT_EQ(all[1].queue, 4201);
  EXPECT_EQ(all[1].user_dropped, 5u);
}

TEST(DivertKernelQueueStats, SkipsLinesThatDoNotParse) {
  EXPECT_TRUE(parse_kernel_queue_stats("").empty());
  EXPECT_TRUE(parse_kernel_queue_stats("garbage\n 1 2 3\n99999 1 1 1 1 1 1 1 1\n").empty());
  EXPECT_EQ(parse_kernel_queue_stats("x\n 7 1 0 2 65535 0 0 1 1").size(), 1u);
}

}  // namespace
}  // namespace badlink
