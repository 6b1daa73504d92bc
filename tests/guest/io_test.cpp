// SPDX-License-Identifier: MIT
// Devices, drivers and I/O workloads: data arrives where the driver posted it, a stable pool
// that fits the IOTLB hits after warm-up, invalidations cost misses, and page-table churn in
// the same domain reaches the device only as invalidations.
#include <gtest/gtest.h>

#include "guest/drivers.hpp"
#include "support/guest_fixture.hpp"
#include "workload/workload.hpp"

namespace pib {
namespace {

using sim::Event;
using test::GuestFixture;

system::GuestSystemConfig io_config(xen::IommuMode mode,
                                    system::PvOpsKind kind = system::PvOpsKind::kXen) {
  system::GuestSystemConfig c;
  c.pvops = kind;
  c.guest_pages = 8192;
  c.iommu = mode;
  c.nic = true;
  c.disk = true;
  c.randomize_va_space = 0;  // a fixed layout: the lmbench image's fork+exit has 8 tables
  return c;
}

TEST(Io, ReceivedPacketsLandInThePostedBuffersAndAreConsumed) {
  for (const auto kind : {system::PvOpsKind::kXen, system::PvOpsKind::kNative}) {
    GuestFixture fx(io_config(xen::IommuMode::kSync, kind));
    guest::NicDriver drv(fx.k(), 0, 16, guest::BufferPolicy::kStablePool);
    fx.sys().nic()->set_rx_ring(drv.rx_ring_dma(), drv.ring_size());
    EXPECT_EQ(fx.sys().nic()->receive(10, 1500), 10u);
    EXPECT_EQ(drv.rx_poll(), 15000u);
    // The ring is full again: 16 more fit, the 17th is dropped.
    EXPECT_EQ(fx.sys().nic()->receive(17, 1500), 16u);
    EXPECT_EQ(fx.sys().ledger().count(Event::kDevNicDrops), 1u);
    EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
  }
}

TEST(Io, AStablePoolThatFitsTheIotlbHitsAfterWarmUpAndMissesAfterAnInvalidation) {
  GuestFixture fx(io_config(xen::IommuMode::kSync));
  guest::NicDriver drv(fx.k(), 0, 16, guest::BufferPolicy::kStablePool);  // 16 + 1 pages < 64
  auto* nic = fx.sys().nic();
  nic->set_rx_ring(drv.rx_ring_dma(), drv.ring_size());
  auto round = [&] {
    nic->receive(16, 1500);
    drv.rx_poll();
  };
  round();  // warm-up
  const auto warm = fx.measure(round);
  EXPECT_EQ(warm[Event::kHwIotlbMiss], 0u);
  EXPECT_EQ(warm[Event::kHwIotlbHit], 16u * 4);  // 2 descriptor reads, data, write-back
  auto* iommu = fx.sys().machine().iommu();
  iommu->submit({hw::InvalidationScope::kDomain, 0, 0, 0});
  iommu->wait();
  const auto cold = fx.measure(round);
  EXPECT_EQ(cold[Event::kHwIotlbMiss], 17u);  // every buffer and the ring page once
}

TEST(Io, WithoutAnIommuNothingIsTranslated) {
  GuestFixture fx(io_config(xen::IommuMode::kNone));
  guest::NicDriver drv(fx.k(), 0, 16, guest::BufferPolicy::kStablePool);
  fx.sys().nic()->set_rx_ring(drv.rx_ring_dma(), drv.ring_size());
  const auto d = fx.measure([&] {
    fx.sys().nic()->receive(16, 1500);
    drv.rx_poll();
  });
  EXPECT_EQ(d[Event::kHwIotlbHit] + d[Event::kHwIotlbMiss], 0u);
  EXPECT_EQ(d[Event::kDevNicPackets], 16u);
}

TEST(Io, DiskReadsFillTheBuffersTheDriverChose) {
  GuestFixture fx(io_config(xen::IommuMode::kSync));
  guest::BlockDriver drv(fx.k(), 0, 8, 64, 7);
  fx.sys().disk()->set_queue(drv.queue_dma(), drv.queue_depth());
  EXPECT_EQ(drv.submit(2, 3 * 4096, false, false), 2u);  // 6 descriptors
  EXPECT_EQ(fx.sys().disk()->process(), 6u);
  EXPECT_EQ(drv.reap(), 2u * 3 * 4096);
  EXPECT_EQ(fx.sys().ledger().count(Event::kDevDiskRequests), 2u);
  EXPECT_EQ(fx.sys().ledger().count(Event::kHwIommuFault), 0u);
}

uint64_t run_total(const std::string& name, workload::Params p, xen::IommuMode mode, Event e) {
  system::GuestSystem sys(io_config(mode));
  auto w = workload::make_workload(name, p);
  const auto r = workload::run(sys, *w, name, 3, 1);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{});
  return r.total[static_cast<std::size_t>(e)];
}

TEST(Io, ProcessChurnReachesTheDeviceAsInvalidationsOnlyWithAnIommu) {
  workload::Params churn;
  churn.set("churn", "lat_proc.fork");
  churn.set("churn_ops", "2");
  // Each fork+exit makes 8 frames page tables: 8 invalidations; 2 per iteration, 3 iterations.
  EXPECT_EQ(run_total("net.rx", churn, xen::IommuMode::kSync, Event::kHwIommuInvStall), 48u);
  EXPECT_EQ(run_total("net.rx", churn, xen::IommuMode::kNone, Event::kHwIommuInvStall), 0u);
  EXPECT_EQ(run_total("net.rx", workload::Params{}, xen::IommuMode::kSync, Event::kHwIommuInvStall),
            0u);
}

TEST(Io, PerRequestBuffersFlowThroughTheAllocator) {
  workload::Params p;
  p.set("buffers", "per_request");
  p.set("packets", "64");
  EXPECT_EQ(run_total("net.tx", p, xen::IommuMode::kSync, Event::kGuestPageAlloc), 3u * 64);
}

}  // namespace
}  // namespace pib
