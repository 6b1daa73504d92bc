// SPDX-License-Identifier: MIT
// hv-script's domain line (the machine, Xen's parameters, the validation policy, a device, the
// DMA adversary, the clock, a second domain), its frames, and running a line as the second
// domain.
#include <algorithm>

#include "app/hv_script_session.hpp"
#include "pibooster/xen/pt_pool_validation.hpp"
#include "pibooster/xen/pt_pool_validation_2016.hpp"
#include "xen/domain_builder.hpp"

namespace pib::app::hvs {

std::map<std::string, std::string> Script::key_values(const std::vector<std::string>& words,
                                                      std::size_t from) const {
  std::map<std::string, std::string> kv;
  for (std::size_t i = from; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    if (eq == std::string::npos) fail("expected key=value, got '" + words[i] + "'");
    kv[words[i].substr(0, eq)] = words[i].substr(eq + 1);
  }
  return kv;
}

void Script::boot(const std::map<std::string, std::string>& kv) {
  xen::PvDomainSpec spec;
  hw::MachineParams mp;
  xen::XenParams xp;
  bool caching_mode = false;
  std::string policy = "combined";
  auto adversary = xen::DmaAdversaryMode::kOff;
  uint64_t clock_ns = 0;
  uint64_t other_pages = 0;
  uint64_t max_pages = 0;  // XEN_DOMCTL_max_mem; 0: the domain's size
  for (const auto& [k, v] : kv) {
    if (k == "pages") {
      spec.pages = bounded(k, v, 1, kMaxScriptPages);
    } else if (k == "vcpus") {
      spec.vcpus = static_cast<uint32_t>(bounded(k, v, 1, kMaxScriptCpus));
    } else if (k == "cpus") {
      mp.cpus = static_cast<uint32_t>(bounded(k, v, 1, kMaxScriptCpus));
    } else if (k == "generation") {
      const auto g = xen::kXenGenerationNames.find(v);
      if (!g)
        fail("unknown generation '" + v + "' (valid: " + xen::kXenGenerationNames.valid_names() +
             ")");
      xp.generation = *g;
    } else if (k == "privileged") {
      spec.privileged = yes_no(k, v);
    } else if (k == "iommu") {
      spec.iommu = xen::iommu_mode_by_name(v);
    } else if (k == "caching_mode") {
      caching_mode = yes_no(k, v);
    } else if (k == "max_pages") {
      max_pages = bounded(k, v, 1, kMaxScriptPages);
    } else if (k == "superpages") {
      const auto sp = xen::kIommuSuperpagesNames.find(v);
      if (!sp) {
        fail("unknown superpages '" + v + "' (valid: " + xen::kIommuSuperpagesNames.valid_names() +
             ")");
      }
      xp.iommu_superpages = *sp;
    } else if (k == "xsa288") {
      const auto x = xen::kXsa288Names.find(v);
      if (!x) fail("unknown xsa288 '" + v + "' (valid: " + xen::kXsa288Names.valid_names() + ")");
      xp.xsa288 = *x;
    } else if (k == "device") {
      device_ = static_cast<uint16_t>(bounded(k, v, 0, 0xffff));
    } else if (k == "policy") {
      policy = v;
    } else if (k == "adversary") {
      const auto m = xen::kDmaAdversaryModeNames.find(v);
      if (!m) fail("unknown adversary mode '" + v + "' (valid: off, audit, attack)");
      adversary = *m;
    } else if (k == "clock") {
      clock_ns = bounded(k, v, 1, kMaxScriptUnitNs);
    } else if (k == "other") {
      other_pages = bounded(k, v, 1, kMaxScriptPages);
    } else {
      fail("unknown domain key '" + k +
           "' (valid: pages, max_pages, vcpus, cpus, generation, privileged, iommu, "
           "caching_mode, superpages, xsa288, device, policy, adversary, clock, other)");
    }
  }
  if (device_ && spec.iommu == xen::IommuMode::kNone) fail("'device' needs an iommu mode");
  if (xp.iommu_superpages == xen::IommuSuperpages::kOn &&
      xp.generation != xen::XenGeneration::kModern) {
    fail("superpages=on needs generation=modern: paper-era Xen has no IOMMU superpages");
  }
  if (xp.xsa288 == xen::Xsa288::kBackport && xp.generation != xen::XenGeneration::kPaperEra) {
    fail("xsa288=backport needs generation=paper-era: modern Xen has the fix");
  }
  if (adversary == xen::DmaAdversaryMode::kAttack && !device_) {
    fail("adversary=attack needs a device");
  }
  mp.cpus = std::max(mp.cpus, spec.vcpus);
  if (max_pages != 0 && max_pages < spec.pages) fail("max_pages below pages");
  mp.frames = std::max(spec.pages, max_pages) + other_pages + 1024;
  if (spec.iommu != xen::IommuMode::kNone) mp.iommu = hw::IommuParams{.caching_mode = caching_mode};
  machine_ = std::make_unique<hw::Machine>(mp, ledger_);
  xen_ = std::make_unique<xen::Hypervisor>(*machine_, ledger_, xp);
  if (policy == "pibooster") {
    xen_->set_validation_policy(std::make_unique<pibooster::PtPoolValidation>());
  } else if (policy == "pibooster-2016") {
    xen_->set_validation_policy(std::make_unique<pibooster::PtPoolValidation2016>());
  } else if (policy != "combined") {
    fail("unknown policy '" + policy + "' (valid: combined, pibooster, pibooster-2016)");
  }
  si_ = xen::build_pv_domain(*xen_, spec);
  // The toolstack's max_mem: room to populate beyond what the builder gave.
  if (max_pages != 0) xen_->domain(si_.domid).config.max_pages = max_pages;
  if (other_pages != 0) {
    // Built second: the first domain stays the one every line runs as unless told otherwise.
    other_built_ = xen::build_pv_domain(
        *xen_, xen::PvDomainSpec{.pages = other_pages, .vcpus = 1, .iommu = spec.iommu});
    other_ = *other_built_;
    other_next_free_ = other_.first_free_pfn.value;
    xen_->set_port_domain(si_.domid);
  }
  if (device_) xen_->assign_device(si_.domid, *device_);
  if (adversary != xen::DmaAdversaryMode::kOff) {
    adversary_ = std::make_unique<xen::DmaAdversary>(
        xen::DmaAdversaryParams{.mode = adversary, .device = device_.value_or(0)});
    adversary_->chain(this);  // lines armed with 'at' run after the adversary's checks
    xen_->set_interleaving_observer(adversary_.get());
  }
  next_free_ = si_.first_free_pfn.value;
  ledger_.reset();  // the script's counters start after boot
  if (clock_ns != 0) {
    // Every event costs clock_ns on the running clock, so timers expire and preempt long
    // hypercalls as the work is done (the fuzzer's clock, docs/fuzzing.md).
    std::array<double, sim::kEventCount> unit{};
    unit.fill(static_cast<double>(clock_ns));
    ledger_.set_clock(unit);
    clock_ = true;
  }
  out_ << "# domain: " << spec.pages << " pages, " << spec.vcpus << " vcpu(s), Xen "
       << xen::name_of(xp.generation);
  if (other_built_) out_ << "; second domain " << other_.domid << ": " << other_pages << " pages";
  out_ << "\n";
}

bool Script::yes_no(const std::string& key, const std::string& v) const {
  if (v == "yes" || v == "true") return true;
  if (v == "no" || v == "false") return false;
  fail("domain " + key + " must be yes or no, got '" + v + "'");
}

uint64_t Script::bounded(const std::string& key, const std::string& v, uint64_t lo,
                         uint64_t hi) const {
  const uint64_t n = number(v);
  if (n < lo || n > hi) {
    fail("domain " + key + " = " + v + " is out of range (" + std::to_string(lo) + " to " +
         std::to_string(hi) + ")");
  }
  return n;
}

void Script::declare_frames(const std::vector<std::string>& words, std::size_t from, bool other) {
  if (words.size() <= from) fail("'frame' needs at least one name");
  const abi::StartInfo& si = other ? other_ : si_;
  uint64_t& next = other ? other_next_free_ : next_free_;
  for (std::size_t i = from; i < words.size(); ++i) {
    if (frames_.count(words[i]) || words[i] == "l4" || words[i] == "other_l4") {
      fail("frame '" + words[i] + "' declared twice");
    }
    if (next >= si.nr_pages) fail("the domain has no free frames left");
    frames_[words[i]] = Named{other, Pfn{next++}};
  }
}

void Script::as_other(const std::string& line, const std::optional<Expectation>& expect) {
  if (!other_built_) fail("no second domain: add other=PAGES to the domain line");
  if (as_other_) fail("'other' does not nest");
  const auto words = split_ws(line);
  if (words.size() < 2) fail("usage: other COMMAND... (or 'other frame NAME...')");
  if (in_multicall_) fail("'other' lines cannot be part of a multicall");
  // The second domain's vCPU 0 runs the line (a context switch on its CPU, as Xen's scheduler
  // would make one), then the first domain's again.
  const VcpuId saved = vcpu_;
  vcpu_ = 0;
  as_other_ = true;
  xen_->set_port_domain(other_.domid);
  try {
    execute(line.substr(line.find(words[1], words[0].size())), expect);
  } catch (...) {
    as_other_ = false;
    throw;
  }
  as_other_ = false;
  xen_->set_port_domain(si_.domid);
  vcpu_ = saved;
}

}  // namespace pib::app::hvs
