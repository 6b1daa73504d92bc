// SPDX-License-Identifier: MIT
// Is the event table complete and consistent (one row per event, unique dotted names)?
#include "sim/events.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

namespace pib::sim {
namespace {

TEST(EventTable, RowsMatchEnumeratorsAndNamesAreUnique) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kEventCount; ++i) {
    EXPECT_EQ(static_cast<std::size_t>(kEventTable[i].event), i) << kEventTable[i].name;
    EXPECT_TRUE(names.insert(kEventTable[i].name).second) << kEventTable[i].name;
    EXPECT_NE(kEventTable[i].name.find('.'), std::string_view::npos);
    EXPECT_FALSE(kEventTable[i].description.empty());
    EXPECT_EQ(event_by_name(kEventTable[i].name), kEventTable[i].event);
  }
  EXPECT_FALSE(event_by_name("no.such.event").has_value());
}

}  // namespace
}  // namespace pib::sim

namespace pib::sim {
namespace {

TEST(EventTable, EveryCounterIsDocumented) {
  const char* root = std::getenv("PIB_SOURCE_DIR");
  ASSERT_NE(root, nullptr);
  std::ifstream in(std::string(root) + "/docs/counters.md");
  ASSERT_TRUE(in) << "docs/counters.md missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& info : kEventTable) {
    EXPECT_NE(doc.find("`" + std::string(info.name) + "`"), std::string::npos) << info.name;
  }
}

}  // namespace
}  // namespace pib::sim
