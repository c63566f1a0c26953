// HandleTable: the set of owed verdicts, checked against std::set under random operations.
#include <gtest/gtest.h>

#include <set>

#include "core/rng.hh"
#include "divert/linux/handle_table.hh"
#include "divert/linux/nfqueue_message.hh"

namespace badlink {
namespace {

TEST(DivertHandleTable, InsertEraseContains) {
  HandleTable t(4);
  EXPECT_TRUE(t.insert(handle_key(4201, 1)));
  EXPECT_FALSE(t.insert(handle_key(4201, 1)));
  EXPECT_TRUE(t.contains(handle_key(4201, 1)));
  EXPECT_FALSE(t.contains(handle_key(4200, 1)));  // same id, another queue
  EXPECT_TRUE(t.erase(handle_key(4201, 1)));
  EXPECT_FALSE(t.erase(handle_key(4201, 1)));
  EXPECT_EQ(t.size(), 0u);
}

TEST(DivertHandleTable, RefusesBeyondCapacity) {
  HandleTable t(3);
  EXPECT_TRUE(t.insert(1));
  EXPECT_TRUE(t.insert(2));
  EXPECT_TRUE(t.insert(3));
  EXPECT_FALSE(t.insert(4));
  EXPECT_TRUE(t.erase(2));
  EXPECT_TRUE(t.insert(4));
}

TEST(DivertHandleTable, AgreesWithStdSetUnderRandomOperations) {
  HandleTable t(512);
  std::set<uint64_t> model;
  Rng rng(42);
  uint64_t next_id = 1;
  for (int step = 0; step < 200000; ++step) {
    if (model.size() < 500 && rng.chance(0.55)) {
      // Sequential ids, as NFQUEUE hands them out, in two queues.
      const uint64_t key = handle_key(static_cast<uint16_t>(4200 + rng.below(2)), next_id++);
      ASSERT_EQ(t.insert(key), model.insert(key).second);
    } else if (!model.empty()) {
      // Verdicts come out of order (delays differ): erase a random member.
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng.below(std::min<uint64_t>(model.size(), 16))));
      ASSERT_TRUE(t.erase(*it));
      model.erase(it);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  for (const uint64_t key : model) {
    EXPECT_TRUE(t.contains(key));
  }
  size_t visited = 0;
  t.for_each([&](uint64_t key) {
    EXPECT_EQ(model.count(key), 1u);
    ++visited;
  });
  EXPECT_EQ(visited, model.size());
}

}  // namespace
}  // namespace badlink
