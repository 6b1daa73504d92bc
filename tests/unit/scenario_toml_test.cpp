// SPDX-License-Identifier: MIT
// The resolved scenario file is written by the tables that parse it: parse -> write -> parse
// gives the same configuration, for every built-in scenario and for one with every key set.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "scenario/scenario.hpp"
#include "scenario/sections.hpp"
#include "support/scenario_error.hpp"

namespace pib::scenario {
namespace {

void expect_same(const Scenario& a, const Scenario& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.warmup, b.warmup);
  EXPECT_EQ(a.policies, b.policies);
  const auto& x = a.system;
  const auto& y = b.system;
  EXPECT_EQ(x.guest_pages, y.guest_pages);
  EXPECT_EQ(x.vcpus, y.vcpus);
  EXPECT_EQ(x.iommu, y.iommu);
  EXPECT_EQ(x.iommu_params.caching_mode, y.iommu_params.caching_mode);
  EXPECT_EQ(x.iommu_params.iotlb_entries, y.iommu_params.iotlb_entries);
  EXPECT_EQ(x.iommu_params.iotlb_ways, y.iommu_params.iotlb_ways);
  EXPECT_EQ(x.clock_scale, y.clock_scale);
  EXPECT_EQ(x.xen_generation, y.xen_generation);
  EXPECT_EQ(x.iommu_superpages, y.iommu_superpages);
  EXPECT_EQ(x.xsa288, y.xsa288);
  EXPECT_EQ(x.linux_generation, y.linux_generation);
  EXPECT_EQ(x.randomize_va_space, y.randomize_va_space);
  EXPECT_EQ(x.hz, y.hz);
  EXPECT_EQ(x.seed, y.seed);
  EXPECT_EQ(x.ptcache.capacity, y.ptcache.capacity);
  EXPECT_EQ(x.ptcache.low_watermark, y.ptcache.low_watermark);
  EXPECT_EQ(x.ptcache.high_watermark, y.ptcache.high_watermark);
  EXPECT_EQ(x.ptcache.refill_batch, y.ptcache.refill_batch);
  EXPECT_EQ(x.ptcache.release_batch, y.ptcache.release_batch);
  EXPECT_EQ(a.workload.name, b.workload.name);
  EXPECT_EQ(a.workload.params.values(), b.workload.params.values());
  EXPECT_EQ(a.paper.claim, b.paper.claim);
  EXPECT_EQ(a.paper.latency_pct, b.paper.latency_pct);
  EXPECT_EQ(a.paper.pt_work_pct, b.paper.pt_work_pct);
}

TEST(ScenarioToml, EveryBuiltinRoundTrips) {
  for (const auto& b : builtin_scenarios()) {
    SCOPED_TRACE(b.name);
    const Scenario first = Scenario::parse(b.text, b.name);
    const Scenario again = Scenario::parse(first.to_toml(), "resolved");
    expect_same(first, again);
    EXPECT_EQ(again.to_toml().substr(again.to_toml().find('\n')),
              first.to_toml().substr(first.to_toml().find('\n')));
  }
}

// Every key of every section, none at its default.
const char* const kEveryKey = R"(policies = ["pibooster", "baseline"]
[scenario]
name = "every-key"
description = "all set"
iterations = 7
warmup = 3
seed = 42
[machine]
memory_mib = 256
vcpus = 2
iommu = "relaxed"
caching_mode = true
iotlb_entries = 128
iotlb_ways = 8
clock_scale = 2.5
[xen]
generation = "paper-era"
iommu_superpages = "no-superpages"
xsa288 = "backport"
[guest]
linux = 4
randomize_va_space = 1
hz = 250
[workload]
name = "lat_proc.fork"
[workload.params]
parent_heap_pages = 300
[pibooster]
capacity = 900
low_watermark = 4
high_watermark = 400
refill_batch = 16
release_batch = 8
[paper]
claim = "something"
latency_change_pct = -12.5
pt_work_change_pct = -40
)";

TEST(ScenarioToml, AScenarioWithEveryKeySetRoundTrips) {
  const Scenario s = Scenario::parse(kEveryKey, "every.toml");
  EXPECT_EQ(s.system.guest_pages, 256 * kPagesPerMiB);
  EXPECT_EQ(s.system.vcpus, 2u);
  EXPECT_EQ(s.system.iommu, xen::IommuMode::kRelaxed);
  EXPECT_TRUE(s.system.iommu_params.caching_mode);
  EXPECT_EQ(s.system.clock_scale, 2.5);
  EXPECT_EQ(s.system.linux_generation, guest::LinuxGeneration::kLinux4);
  EXPECT_EQ(s.system.iommu_superpages, xen::IommuSuperpages::kOff);
  EXPECT_EQ(s.system.xsa288, xen::Xsa288::kBackport);
  EXPECT_EQ(s.system.seed, 42u);
  EXPECT_EQ(s.system.ptcache.release_batch, 8u);
  EXPECT_EQ(s.paper.latency_pct, -12.5);
  EXPECT_EQ(s.workload.params.values().at("parent_heap_pages"), "300");
  const std::string written = s.to_toml();
  expect_same(s, Scenario::parse(written, "resolved"));
  // Every key of every section is written, none left to its default silently.
  for (const std::string key : {"memory_mib",
                                "vcpus",
                                "iommu",
                                "caching_mode",
                                "iotlb_entries",
                                "iotlb_ways",
                                "clock_scale",
                                "generation",
                                "iommu_superpages",
                                "linux",
                                "randomize_va_space",
                                "hz",
                                "capacity",
                                "low_watermark",
                                "high_watermark",
                                "refill_batch",
                                "release_batch",
                                "claim",
                                "latency_change_pct",
                                "pt_work_change_pct",
                                "seed",
                                "warmup"}) {
    EXPECT_NE(written.find("\n" + key + " = "), std::string::npos) << key;
  }
  EXPECT_NE(written.find("[workload.params]\nparent_heap_pages = "), std::string::npos);
}

std::string error_of(const std::string& text) {
  return test::scenario_error(text);
}

TEST(ScenarioToml, ErrorsNameTheLineTheKeyAndWhatIsValid) {
  const std::string minimal = "[scenario]\nname = \"t\"\n[workload]\nname = \"lat_proc.fork\"\n";
  EXPECT_EQ(error_of(minimal + "[machine]\niommu = \"strict\"\n"),
            "s.toml:6: machine.iommu: unknown IOMMU mode 'strict' (valid: none, sync, relaxed)");
  EXPECT_EQ(error_of(minimal + "[xen]\ngeneration = \"paper-era\"\niommu_superpages = \"on\"\n"),
            "s.toml:5: xen.iommu_superpages = \"on\" needs a modern generation: paper-era Xen has "
            "no IOMMU superpages");
  EXPECT_EQ(error_of(minimal + "[xen]\ngeneration = \"modern\"\nxsa288 = \"backport\"\n"),
            "s.toml:5: xen.xsa288 = \"backport\" is for a paper-era generation: modern Xen has "
            "the fix");
  EXPECT_EQ(error_of(minimal + "[xen]\niommu_superpages = \"yes\"\n"),
            "s.toml:6: xen.iommu_superpages: unknown IOMMU superpages 'yes' (valid: default, on, "
            "off, superpages, no-superpages)");
  EXPECT_EQ(error_of(minimal + "[guest]\nlinux = 5\n"),
            "s.toml:6: guest.linux: unknown Linux generation '5' (valid: 4, 6)");
  EXPECT_NE(error_of(minimal + "[pibooster]\nsize = 3\n")
                .find("s.toml:6: unknown key pibooster.size (valid: capacity, low_watermark"),
            std::string::npos);
  EXPECT_EQ(error_of(minimal + "[pibooster]\nlow_watermark = 600\n"),
            "s.toml:5: pibooster: need low_watermark < high_watermark <= capacity");
  EXPECT_EQ(error_of(minimal + "[machine]\niotlb_ways = 3\n"),
            "s.toml:5: machine.iotlb_entries must be a multiple of iotlb_ways");
  EXPECT_EQ(error_of(minimal + "[machine]\ncaching_mode = 1\n"),
            "s.toml:6: machine.caching_mode must be true or false");
  EXPECT_EQ(error_of(minimal + "[paper]\nlatency_change_pct = \"a lot\"\n"),
            "s.toml:6: paper.latency_change_pct must be a number");
  EXPECT_EQ(error_of(minimal + "[workload.params]\nx = 1.5\n"),
            "s.toml:6: workload parameter x must be an integer or a string");
  EXPECT_EQ(error_of("[scenario]\ndescription = \"d\"\n[workload]\nname = \"lat_proc.fork\"\n"),
            "s.toml:1: missing scenario.name");
  EXPECT_NE(error_of(minimal + "[extra]\n").find("s.toml:5: unknown section or key 'extra'"),
            std::string::npos);
  EXPECT_NE(error_of("policies = [\"baseline\", \"kvm\"]\n" + minimal)
                .find("s.toml:1: unknown policy 'kvm'"),
            std::string::npos);
}

TEST(ScenarioToml, AKeySetFromTheCommandLineIsCheckedAsInAFile) {
  Scenario s = Scenario::parse(kEveryKey, "every.toml");
  s.set("machine.vcpus", "4", "--vcpus");
  EXPECT_EQ(s.system.vcpus, 4u);
  // The file's paper-era backport of XSA-288 does not fit a modern Xen: checked as in a file.
  EXPECT_THROW(s.set("xen.generation", "4.17", "--xen"), InputError);
  s.set("xen.xsa288", "default", "--xsa288");
  s.set("xen.generation", "4.17", "--xen");
  EXPECT_EQ(s.system.xen_generation, xen::XenGeneration::kModern);
  s.set("guest.linux", "6", "--linux");
  EXPECT_EQ(s.system.linux_generation, guest::LinuxGeneration::kLinux6);
  try {
    s.set("machine.vcpus", "65", "--vcpus");
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--vcpus: machine.vcpus must be an integer in 1..64");
  }
  EXPECT_THROW(s.set("machine.caching_mode", "yes", "--caching-mode"), InputError);
}

}  // namespace
}  // namespace pib::scenario
