// SPDX-License-Identifier: MIT
// A whole simulated system, assembled the way it would boot: a machine; then either Xen with
// one PV domain whose kernel uses the Xen pv-ops, or the same kernel on bare metal with the
// native pv-ops. The one place that knows both the hypervisor and the guest.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "guest/kernel.hpp"
#include "guest/xen/xen_pv_ops.hpp"
#include "hw/dma_devices.hpp"
#include "hw/machine.hpp"
#include "pibooster/guest/pt_cache.hpp"
#include "sim/ledger.hpp"
#include "system/delta.hpp"
#include "system/tracing_port.hpp"
#include "xen/dma_adversary.hpp"
#include "xen/hypervisor.hpp"
#include "xen/params.hpp"
#include "xen/save_restore.hpp"

namespace pib::system {

enum class PvOpsKind { kXen, kNative };
inline constexpr auto kPvOpsNames =
    make_names<PvOpsKind>("pv-ops", {{PvOpsKind::kXen, "xen"}, {PvOpsKind::kNative, "native"}});
inline std::string_view name_of(PvOpsKind kind) {
  return kPvOpsNames.name_of(kind);
}
// InputError naming the valid ones when `name` is neither.
inline PvOpsKind pvops_by_name(std::string_view name) {
  return kPvOpsNames.by_name(name);
}

struct GuestSystemConfig {
  PvOpsKind pvops = PvOpsKind::kXen;
  uint64_t guest_pages = 128 * kPagesPerMiB;
  uint32_t vcpus = 1;
  xen::XenGeneration xen_generation = xen::XenGeneration::kModern;
  xen::IommuSuperpages iommu_superpages = xen::IommuSuperpages::kDefault;
  xen::Xsa288 xsa288 = xen::Xsa288::kDefault;  // "backport": paper-era with XSA-288's fix
  guest::LinuxGeneration linux_generation = guest::LinuxGeneration::kLinux6;
  hw::TlbParams tlb{};
  // The IOMMU (machine) and how the domain uses it (Xen): kNone = no IOMMU on the machine.
  xen::IommuMode iommu = xen::IommuMode::kNone;
  hw::IommuParams iommu_params{};
  // The research delta (set by a policy) and the knobs of PiBooster's cache ([pibooster]).
  Delta delta{};
  pibooster::PtCacheParams ptcache{};
  // The guest's randomize_va_space (Linux's default 2: stack, mmap base, vDSO, PIE and brk
  // randomised at every exec) and the seed its draws come from.
  int randomize_va_space = 2;
  uint64_t seed = 1;
  // Time. `clock`: unit costs (ns per event, a cost profile's: cost::unit_costs) that run the
  // CPUs' clocks, stretched by `clock_scale` (a slower machine); empty: no clock, no timers.
  // `hz`: the guest kernel's tick (CONFIG_HZ), 0 for none. `poller_period_ns`: a daemon process
  // that polls on a timer with this period, as the tracer xentrace does; 0 for none.
  std::optional<std::array<double, sim::kEventCount>> clock;
  // The unit costs of the profile the run is charged with, for designs that choose by cost
  // (pibooster-plus's density threshold); empty: such a design uses the default profile.
  std::optional<std::array<double, sim::kEventCount>> design_costs;
  double clock_scale = 1.0;
  uint32_t hz = 0;
  uint64_t poller_period_ns = 0;
  // Devices acting between the steps of every hypercall (xen/dma_adversary.hpp): off, audit
  // (checks at every step) or attack (and tries the writes). Applies to Xen with an IOMMU;
  // other platforms have no DMA protection to attack and run without.
  xen::DmaAdversaryMode dma_adversary = xen::DmaAdversaryMode::kOff;
  // Room on the machine for a second copy of the domain, so that it can be saved and restored
  // on this machine (GuestSystem::save_restore), as a local migration needs.
  bool save_restore_room = false;
  bool nic = false;   // attach a NIC (device 0x100) to the guest
  bool disk = false;  // attach a block device (device 0x200)
};

inline constexpr uint16_t kNicDevice = 0x100;
inline constexpr uint16_t kDiskDevice = 0x200;
// The DMA adversary's device when the guest has no NIC to attack with.
inline constexpr uint16_t kAdversaryDevice = 0x300;
// Devices keep their own clocks in the ledger, after the vCPUs'.
inline constexpr uint32_t kNicClock = kMaxCpus;
inline constexpr uint32_t kDiskClock = kMaxCpus + 1;

class GuestSystem {
 public:
  explicit GuestSystem(const GuestSystemConfig& config);
  ~GuestSystem();
  GuestSystem(const GuestSystem&) = delete;
  GuestSystem& operator=(const GuestSystem&) = delete;

  const GuestSystemConfig& config() const { return config_; }
  sim::Ledger& ledger() { return ledger_; }
  hw::Machine& machine() { return *machine_; }
  guest::Kernel& kernel() { return *kernel_; }
  xen::Hypervisor* hypervisor() { return xen_.get(); }  // nullptr on bare metal
  // The polling daemon's pid (poller_period_ns), 0 when there is none.
  guest::Pid poller() const { return poller_; }
  hw::Nic* nic() { return nic_.get(); }
  // Where the guest's page-table pages come from (the policy's source, or the page allocator).
  guest::PtPageSource& pt_pages() { return kernel_->core().pt_pages(); }
  hw::BlockDevice* disk() { return disk_.get(); }
  // The DMA adversary (`dma_adversary`), nullptr when off.
  xen::DmaAdversary* dma_adversary() { return adversary_.get(); }
  // Prints every guest-to-Xen transition to `out` until called with nullptr (Xen only).
  void trace_hypercalls(std::ostream* out) {
    if (tracer_) tracer_->set_stream(out);
  }
  // Hypervisor invariants (empty when clean or on bare metal).
  std::vector<std::string> audit() const;
  // Saves the domain and restores it as a new domain on this machine (a local migration:
  // xen/save_restore.hpp), with the guest kernel's suspend before and resume after, under
  // stop_machine (Xen only; needs save_restore_room). On failure (the result's rc and what) the
  // suspend is cancelled: the guest runs on in its old domain.
  xen::SaveRestoreResult save_restore();

 private:
  GuestSystemConfig config_;
  sim::Ledger ledger_;
  std::unique_ptr<hw::Machine> machine_;
  std::unique_ptr<xen::Hypervisor> xen_;
  std::unique_ptr<TracingPort> tracer_;
  // Declared before the pv-ops and the kernel that refer to them, so they outlive both.
  guest::NoPtPool no_pool_;
  guest::NoTablePin no_pin_;
  std::unique_ptr<guest::DmaPoolStrategy> dma_pool_;
  std::unique_ptr<guest::PvOps> ops_;
  guest::XenPvOps* xen_ops_ = nullptr;  // ops_ when the guest runs on Xen
  std::unique_ptr<guest::Kernel> kernel_;
  std::unique_ptr<hw::Nic> nic_;
  std::unique_ptr<hw::BlockDevice> disk_;
  guest::Pid poller_ = 0;
  std::unique_ptr<xen::DmaAdversary> adversary_;
  void install_delta();
  void install_adversary();  // once the devices are assigned  // the policy's seams, once the
                             // kernel exists
};

}  // namespace pib::system
