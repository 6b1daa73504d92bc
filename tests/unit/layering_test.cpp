// SPDX-License-Identifier: MIT
// Do the layers only include downwards? hw knows nothing of Xen or the guest; the guest reaches
// the hypervisor only through abi/.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace {

namespace fs = std::filesystem;

std::vector<std::string> offending_includes(const std::string& layer,
                                            const std::vector<std::string>& forbidden) {
  const char* root = std::getenv("PIB_SOURCE_DIR");
  std::vector<std::string> bad;
  if (root == nullptr) return {"PIB_SOURCE_DIR not set"};
  const fs::path dir = fs::path(root) / "src" / layer;
  if (!fs::exists(dir)) return bad;
  const std::regex include(R"(#include\s*["<]([a-z_]+)/)");
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      for (const auto& f : forbidden) {
        if (m[1] == f) bad.push_back(entry.path().string() + ": " + line);
      }
    }
  }
  return bad;
}

TEST(Layering, HardwareKnowsNothingAbove) {
  EXPECT_EQ(offending_includes("hw", {"xen", "guest", "abi", "pibooster", "workloads", "app"}),
            std::vector<std::string>{});
}

TEST(Layering, SimAndCommonDependOnNothingAbove) {
  EXPECT_EQ(offending_includes("sim", {"hw", "xen", "guest", "abi", "pibooster", "app"}),
            std::vector<std::string>{});
  EXPECT_EQ(offending_includes("common", {"sim", "hw", "xen", "guest", "abi", "app"}),
            std::vector<std::string>{});
}

TEST(Layering, AbiKnowsNeitherSide) {
  EXPECT_EQ(offending_includes("abi", {"xen", "guest", "pibooster"}), std::vector<std::string>{});
}

TEST(Layering, GuestReachesXenOnlyThroughAbi) {
  EXPECT_EQ(offending_includes("guest", {"xen", "system", "workload", "app"}),
            std::vector<std::string>{});
}

TEST(Layering, HypervisorKnowsNothingOfTheGuest) {
  EXPECT_EQ(offending_includes("xen", {"guest", "system", "workload", "app"}),
            std::vector<std::string>{});
}

TEST(Layering, WorkloadsUseTheSystemNotItsParts) {
  EXPECT_EQ(offending_includes("workload", {"xen", "hw", "abi", "app"}),
            std::vector<std::string>{});
}

}  // namespace
