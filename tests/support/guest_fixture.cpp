// SPDX-License-Identifier: MIT
#include "support/guest_fixture.hpp"

namespace pib::test {

system::GuestSystemConfig guest_config(system::PvOpsKind kind, uint32_t vcpus, uint64_t pages,
                                       xen::XenGeneration gen) {
  system::GuestSystemConfig cfg;
  cfg.pvops = kind;
  cfg.vcpus = vcpus;
  cfg.guest_pages = pages;
  cfg.xen_generation = gen;
  return cfg;
}

GuestFixture::GuestFixture(system::PvOpsKind kind, uint32_t vcpus, uint64_t pages,
                           xen::XenGeneration gen)
    : sys_(guest_config(kind, vcpus, pages, gen)) {}

GuestFixture::GuestFixture(const system::GuestSystemConfig& config) : sys_(config) {}

Delta GuestFixture::measure(const std::function<void()>& step) {
  const auto before = sys_.ledger().counts();
  step();
  return Delta{sys_.ledger().since(before)};
}

std::vector<uint64_t> GuestFixture::frame_state() const {
  std::vector<uint64_t> out;
  const xen::Hypervisor* x = const_cast<system::GuestSystem&>(sys_).hypervisor();
  if (x == nullptr) return out;
  const auto& ft = x->frame_table();
  for (uint64_t m = 0; m < ft.size(); ++m) {
    const auto& pg = ft[Mfn{m}];
    out.push_back(pg.count);
    out.push_back(pg.type_count);
    out.push_back(pg.pinned ? 1 : 0);
  }
  return out;
}

}  // namespace pib::test
