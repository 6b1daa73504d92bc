// SPDX-License-Identifier: MIT
#include "system/guest_system.hpp"

#include "common/error.hpp"
#include "guest/native/native_pv_ops.hpp"
#include "xen/audit.hpp"
#include "xen/domain_builder.hpp"

namespace pib::system {

namespace {
// Frames Xen keeps for itself beside the guest (its own tables and heap in the model).
constexpr uint64_t kXenReservedFrames = 256;
}  // namespace

GuestSystem::GuestSystem(const GuestSystemConfig& config) : config_(config) {
  if (config.vcpus == 0 || config.vcpus > kMaxCpus) {
    throw InputError("vcpus must be 1.." + std::to_string(kMaxCpus));
  }
  if (!(config.clock_scale > 0)) throw InputError("clock_scale must be above 0");
  if (config.hz != 0 && !config.clock) throw InputError("a tick (hz) needs a clock");
  if (config.poller_period_ns != 0 && config.hz == 0) {
    throw InputError("a polling daemon needs the tick (hz)");
  }
  if (config.clock) ledger_.set_clock(*config.clock, config.clock_scale);
  hw::MachineParams mp;
  mp.cpus = config.vcpus;
  mp.tlb = config.tlb;
  if (config.iommu != xen::IommuMode::kNone) mp.iommu = config.iommu_params;
  if (config.pvops == PvOpsKind::kXen) {
    mp.frames = config.guest_pages + kXenReservedFrames + config.guest_pages / kPagesPerMiB;
    if (config.save_restore_room)
      mp.frames += config.guest_pages + config.guest_pages / kPagesPerMiB;
    machine_ = std::make_unique<hw::Machine>(mp, ledger_);
    xen_ = std::make_unique<xen::Hypervisor>(
        *machine_, ledger_,
        xen::XenParams{.generation = config.xen_generation,
                       .iommu_superpages = config.iommu_superpages,
                       .xsa288 = config.xsa288});
    if (config.delta.xen_validation) {
      xen_->set_validation_policy(config.delta.xen_validation(config));
    }
    abi::StartInfo si = xen::build_pv_domain(
        *xen_, xen::PvDomainSpec{config.guest_pages, config.vcpus, false, config.iommu});
    tracer_ = std::make_unique<TracingPort>(*xen_, ledger_);
    auto xen_ops =
        std::make_unique<guest::XenPvOps>(*tracer_, std::move(si), config.linux_generation);
    xen_ops_ = xen_ops.get();
    ops_ = std::move(xen_ops);
  } else {
    if (config.delta.xen_validation || config.delta.dma_pool) {
      throw InputError("this policy changes Xen's side: it needs the xen pv-ops, not native");
    }
    mp.frames = config.guest_pages;
    machine_ = std::make_unique<hw::Machine>(mp, ledger_);
    ops_ = std::make_unique<guest::NativePvOps>(*machine_);
  }
  kernel_ = std::make_unique<guest::Kernel>(*ops_, ledger_);
  kernel_->set_randomize_va_space(config.randomize_va_space, config.seed);
  install_delta();
  // Devices: under Xen with an IOMMU mode they are assigned to the domain and DMA through its
  // I/O page tables; otherwise (no IOMMU, or bare metal, whose kernel does not program one
  // here) they DMA to bus addresses untranslated.
  auto path = [&](uint16_t device) {
    hw::Iommu* iommu = nullptr;
    if (xen_ && config.iommu != xen::IommuMode::kNone) {
      xen_->assign_device(0, device);
      iommu = machine_->iommu();
    }
    return hw::DmaPath(machine_->memory(), iommu, ledger_, device);
  };
  if (config.nic) nic_ = std::make_unique<hw::Nic>(path(kNicDevice), ledger_, kNicClock);
  if (config.disk)
    disk_ = std::make_unique<hw::BlockDevice>(path(kDiskDevice), ledger_, kDiskClock);
  install_adversary();
  if (config.hz != 0) {
    kernel_->start_tick(config.hz);
    if (config.poller_period_ns != 0) {
      poller_ = kernel_->spawn(guest::builtin_image("tiny-static"));
      kernel_->poll_periodically(poller_, config.poller_period_ns);
    }
  }
  ledger_.reset();  // boot is not part of any measurement
}

GuestSystem::~GuestSystem() {
  if (xen_) xen_->set_interleaving_observer(nullptr);
}

void GuestSystem::install_adversary() {
  // Only Xen with an IOMMU has DMA protection to attack (native and no-iommu runs of the
  // same scenario go without).
  if (config_.dma_adversary == xen::DmaAdversaryMode::kOff) return;
  if (!xen_ || config_.iommu == xen::IommuMode::kNone) return;
  uint16_t device = kNicDevice;
  if (!config_.nic) {
    device = kAdversaryDevice;
    xen_->assign_device(0, device);
  }
  adversary_ = std::make_unique<xen::DmaAdversary>(
      xen::DmaAdversaryParams{.mode = config_.dma_adversary, .device = device, .clock = kNicClock});
  xen_->set_interleaving_observer(adversary_.get());
}

void GuestSystem::install_delta() {
  guest::PtPoolPort& pool = xen_ops_ != nullptr ? static_cast<guest::PtPoolPort&>(*xen_ops_)
                                                : static_cast<guest::PtPoolPort&>(no_pool_);
  guest::TablePinPort& pin = xen_ops_ != nullptr ? static_cast<guest::TablePinPort&>(*xen_ops_)
                                                 : static_cast<guest::TablePinPort&>(no_pin_);
  const DeltaContext ctx{kernel_->core(), pool, no_pool_, pin, config_};
  if (config_.delta.pt_pages) kernel_->core().set_pt_page_source(config_.delta.pt_pages(ctx));
  if (config_.delta.dma_pool) {  // Xen only (checked when the platform was chosen)
    dma_pool_ = config_.delta.dma_pool(ctx);
    xen_ops_->set_dma_pool_strategy(*dma_pool_);
  }
}

xen::SaveRestoreResult GuestSystem::save_restore() {
  if (xen_ops_ == nullptr) {
    throw InputError("save/restore needs Xen: a native kernel has no hypervisor to save it");
  }
  xen::SaveRestoreResult result;
  kernel_->stop_machine([&] {
    const DomId old = xen_ops_->start_info().domid;
    xen_ops_->suspend();
    result = xen::save_restore_local(*xen_, old);
    std::optional<abi::StartInfo> restored;
    if (result.rc == abi::err::kOk) {
      restored = xen_ops_->start_info();
      restored->domid = result.domain;
      restored->p2m = result.p2m;
    } else if (xen_->resume_domain(old) != abi::err::kOk) {
      model_bug("a failed save left domain " + std::to_string(old) + " not resumable");
    }
    xen_ops_->resume(restored);
  });
  return result;
}

std::vector<std::string> GuestSystem::audit() const {
  if (!xen_) return {};
  std::vector<std::string> problems = xen::audit(*xen_);
  if (adversary_ && adversary_->violations() != 0) problems.push_back(adversary_->summary());
  return problems;
}

}  // namespace pib::system
