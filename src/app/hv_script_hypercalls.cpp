// SPDX-License-Identifier: MIT
// hv-script's hypercall lines: mmu_update (normal, PRESERVE_AD, MACHPHYS, raw ptrs), every
// mmuext command (named shorthands and raw numbers), update_va_mapping (and the 'remap'
// shorthand), iret, multicall blocks, and the memory_op lines.
#include <map>
#include <sstream>

#include "app/hv_script_session.hpp"

namespace pib::app::hvs {

using namespace hw::pte_bits;

abi::MulticallEntry Script::hypercall(const std::string& line, const std::vector<std::string>& w) {
  abi::MulticallEntry e;
  const std::string& cmd = w[0];
  auto ext = [&](uint32_t c, uint64_t a1, uint64_t a2 = 0) {
    e.op = abi::HypercallNr::kMmuextOp;
    e.mmuext_ops.push_back({c, a1, a2});
  };
  auto need = [&](std::size_t n) {
    if (w.size() < n) fail("'" + cmd + "' needs " + std::to_string(n - 1) + " argument(s)");
  };
  // Fixed arity: a word more is a mistake, not something to ignore.
  auto exactly = [&](std::size_t n) {
    need(n);
    if (w.size() > n) {
      fail("'" + cmd + "' takes " + std::to_string(n - 1) + " argument(s); '" + w[n] +
           "' is one too many");
    }
  };
  if (cmd == "mmu_update") {
    e.op = abi::HypercallNr::kMmuUpdate;
    std::istringstream reqs(line.substr(line.find(' ') + 1));
    for (std::string one; std::getline(reqs, one, ';');) {
      const auto eq = one.find('=');
      if (eq == std::string::npos) fail("mmu_update request needs 'FRAME[IDX] = VALUE'");
      std::string lhs = trim(one.substr(0, eq));
      uint64_t cmd_bits = abi::kMmuNormalPtUpdate;
      if (lhs.rfind("ptr ", 0) == 0) {  // a raw ptr: any address, any command bits
        e.mmu_updates.push_back({raw_ptr(trim(lhs.substr(4))), value_of(one.substr(eq + 1))});
        continue;
      }
      if (lhs.rfind("machphys ", 0) == 0) {
        e.mmu_updates.push_back({maddr_of(mfn(trim(lhs.substr(9)))).value | abi::kMmuMachphysUpdate,
                                 value_of(one.substr(eq + 1))});
        continue;
      }
      if (lhs.rfind("preserve_ad ", 0) == 0) {
        cmd_bits = abi::kMmuPtUpdatePreserveAd;
        lhs = trim(lhs.substr(12));
      }
      const auto [name, idx] = slot(lhs);
      e.mmu_updates.push_back(
          {maddr_of(mfn(name), idx * 8).value | cmd_bits, value_of(one.substr(eq + 1))});
    }
  } else if (cmd == "pin") {
    exactly(3);
    static const std::map<std::string, uint32_t> levels{{"l1", abi::kMmuextPinL1Table},
                                                        {"l2", abi::kMmuextPinL2Table},
                                                        {"l3", abi::kMmuextPinL3Table},
                                                        {"l4", abi::kMmuextPinL4Table}};
    const auto it = levels.find(w[1]);
    if (it == levels.end()) fail("pin level must be l1, l2, l3 or l4");
    ext(it->second, mfn(w[2]).value);
  } else if (cmd == "unpin") {
    exactly(2);
    ext(abi::kMmuextUnpinTable, mfn(w[1]).value);
  } else if (cmd == "new_baseptr") {
    exactly(2);
    ext(abi::kMmuextNewBaseptr, mfn(w[1]).value);
  } else if (cmd == "new_user_baseptr") {
    exactly(2);
    ext(abi::kMmuextNewUserBaseptr, w[1] == "none" ? 0 : mfn(w[1]).value);
  } else if (cmd == "flush") {
    exactly(2);
    ext(w[1] == "all" ? abi::kMmuextTlbFlushAll : abi::kMmuextTlbFlushLocal, 0);
  } else if (cmd == "invlpg") {
    exactly(2);
    ext(abi::kMmuextInvlpgLocal, address(w[1]).value);
  } else if (cmd == "pool_add" || cmd == "pool_remove") {
    // PiBooster's MMUEXT_PT_POOL_ADD / _REMOVE, one op per frame in one mmuext_op.
    need(2);
    for (std::size_t i = 1; i < w.size(); ++i) {
      ext(cmd == "pool_add" ? abi::kMmuextPtPoolAdd : abi::kMmuextPtPoolRemove, mfn(w[i]).value);
    }
  } else if (cmd == "mmuext") {
    // Any mmuext command: "mmuext CMD [ARG1 [ARG2]]", CMD a number or Xen's name without
    // MMUEXT_ (INVLPG_MULTI, CLEAR_PAGE, SET_LDT, ...); an ARG may be a frame (its MFN).
    need(2);
    if (w.size() > 4) fail("'mmuext' takes at most CMD ARG1 ARG2; '" + w[4] + "' is one too many");
    const auto named = abi::kMmuextCmdNames.find(w[1]);
    const uint32_t c = named ? static_cast<uint32_t>(*named) : static_cast<uint32_t>(number(w[1]));
    ext(c, w.size() > 2 ? argument(w[2]) : 0, w.size() > 3 ? argument(w[3]) : 0);
  } else if (cmd == "mark_super") {
    exactly(2);
    ext(abi::kMmuextMarkSuper, number(w[1]));
  } else if (cmd == "remap") {
    need(3);
    if (w[2] != "ro" && w[2] != "rw") fail("remap takes 'ro' or 'rw'");
    e.op = abi::HypercallNr::kUpdateVaMapping;
    const uint64_t flags = kPresent | kAccessed | kNx | (w[2] == "rw" ? (kRw | kDirty) : 0);
    e.uvm = {.va = address(w[1] + "[0]"),
             .val = hw::Pte::make(mfn(w[1]), flags).raw(),
             .flags = w.size() > 3 ? flush_flags(w, 3) : abi::kUvmfInvlpg};
  } else if (cmd == "update_va_mapping") {
    // update_va_mapping VA = VALUE [; invlpg|flush [all]]
    const auto eq = line.find('=');
    if (eq == std::string::npos || w.size() < 4) {
      fail("usage: update_va_mapping VA = VALUE [; invlpg|flush [all]]");
    }
    std::string rhs = line.substr(eq + 1);
    uint64_t flags = 0;
    if (const auto semi = rhs.find(';'); semi != std::string::npos) {
      flags = flush_flags(split_ws(rhs.substr(semi + 1)), 0);
      rhs = rhs.substr(0, semi);
    }
    e.op = abi::HypercallNr::kUpdateVaMapping;
    e.uvm = {.va = address(w[1]), .val = value_of(rhs), .flags = flags};
  } else if (cmd == "iret") {
    e.op = abi::HypercallNr::kIret;
  } else {
    fail("unknown command '" + cmd +
         "' (valid: domain frame read write xchg mmu_update pin unpin new_baseptr "
         "new_user_baseptr flush invlpg remap update_va_mapping mark_super pool_add pool_remove "
         "mmuext batch iret multicall end audit counters count vcpu dma adversary timer time at "
         "other "
         "destroy info "
         "decrease_reservation populate_physmap increase_reservation current_reservation "
         "maximum_reservation)");
  }
  return e;
}

int64_t Script::issue(abi::MulticallEntry& e, std::optional<uint32_t>* done_out) {
  uint32_t done = 0;
  switch (e.op) {
    case abi::HypercallNr::kMmuUpdate: {
      const int64_t rc = xen_->mmu_update(vcpu_, e.mmu_updates, &done, e.foreigndom);
      *done_out = done;
      return rc;
    }
    case abi::HypercallNr::kMmuextOp: {
      const int64_t rc = xen_->mmuext_op(vcpu_, e.mmuext_ops, &done, e.foreigndom);
      *done_out = done;
      return rc;
    }
    case abi::HypercallNr::kUpdateVaMapping:
      return xen_->update_va_mapping(vcpu_, e.uvm);
    case abi::HypercallNr::kIret:
      return xen_->switch_guest_mode(vcpu_, false);
    case abi::HypercallNr::kMulticall:  // no nesting, and scripts write no vcpu_op or sched_op
    case abi::HypercallNr::kMemoryOp:   // issued directly (memory_op lines), never here
    case abi::HypercallNr::kVcpuOp:
    case abi::HypercallNr::kSchedOp:
      break;
  }
  return abi::err::kENOSYS;
}

// memory_op: the reservation commands print the extents completed; populate_physmap writes
// the frames Xen chose into the script's p2m (as a guest does with what comes back).
void Script::memory_op(const std::string& line, const std::vector<std::string>& words,
                       const std::optional<Expectation>& expect) {
  if (expect && (expect->text == "ok" || expect->text.rfind("ok ", 0) == 0)) {
    fail("memory_op returns a count of extents (or an error): expect a number, not 'ok'");
  }
  const std::string& cmd = words[0];
  abi::MemoryReservation r;
  std::vector<std::string> names;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.rfind("order=", 0) == 0) {
      r.extent_order = static_cast<uint32_t>(number(w.substr(6)));
    } else if (w.rfind("domid=", 0) == 0) {
      r.domid = domid(w.substr(6));
    } else if (w.rfind("flags=", 0) == 0) {
      r.mem_flags = static_cast<uint32_t>(number(w.substr(6)));
    } else if (cmd == "populate_physmap") {
      names.push_back(w);
      r.extent_start.push_back(w.rfind("pfn:", 0) == 0 ? number(w.substr(4)) : frame(w).value);
    } else if (cmd == "decrease_reservation") {
      r.extent_start.push_back(mfn(w).value);
    } else if (cmd == "increase_reservation") {
      const uint64_t n = number(w);  // bounded before anything is allocated
      if (n > kMaxScriptExtents) {
        fail("at most " + std::to_string(kMaxScriptExtents) + " extents per memory_op line");
      }
      r.extent_start.resize(n);
    } else {
      fail("'" + cmd + "' takes only domid=N");
    }
    if (r.extent_start.size() > kMaxScriptExtents) {
      fail("at most " + std::to_string(kMaxScriptExtents) + " extents per memory_op line");
    }
  }
  static const std::map<std::string, uint32_t> cmds{
      {"increase_reservation", abi::kXenmemIncreaseReservation},
      {"decrease_reservation", abi::kXenmemDecreaseReservation},
      {"populate_physmap", abi::kXenmemPopulatePhysmap},
      {"current_reservation", abi::kXenmemCurrentReservation},
      {"maximum_reservation", abi::kXenmemMaximumReservation}};
  const int64_t rc = xen_->memory_op(vcpu_, cmds.at(cmd), r);
  report(line, Outcome{rc < 0 ? std::string(abi::error_name(rc)) : std::to_string(rc)}, expect);
  for (int64_t i = 0; i < rc && cmd != "decrease_reservation" && i < int64_t(r.extent_start.size());
       ++i) {
    const Mfn got{r.extent_start[static_cast<std::size_t>(i)]};
    if (cmd == "populate_physmap" && names[static_cast<std::size_t>(i)].rfind("pfn:", 0) != 0 &&
        !named(names[static_cast<std::size_t>(i)]).other && !as_other_ &&
        (r.domid == abi::kDomidSelf || r.domid == si_.domid)) {
      p2m_changes_[frame(names[static_cast<std::size_t>(i)]).value] = got;
    }
    out_ << "        extent " << i << ": mfn " << hex(got.value) << "\n";
  }
}

void Script::batch(const std::string& line, DomId foreigndom,
                   const std::optional<Expectation>& expect) {
  if (in_multicall_) fail("'batch' cannot be part of a multicall");
  abi::MulticallEntry all;
  all.op = abi::HypercallNr::kMmuextOp;
  all.foreigndom = foreigndom;
  std::istringstream parts(line.substr(line.find(' ') + 1));
  for (std::string part; std::getline(parts, part, ';');) {
    part = trim(part);
    if (part.empty()) fail("'batch' has an empty part");
    const abi::MulticallEntry one = hypercall(part, split_ws(part));
    if (one.op != abi::HypercallNr::kMmuextOp) {
      fail("'batch' joins mmuext commands only ('" + part + "' is not one)");
    }
    all.mmuext_ops.insert(all.mmuext_ops.end(), one.mmuext_ops.begin(), one.mmuext_ops.end());
  }
  if (all.mmuext_ops.empty()) fail("usage: batch LINE ; LINE ... (mmuext commands)");
  std::optional<uint32_t> done;
  Outcome got = rc(issue(all, &done));
  got.done = done;
  report(foreigndom == abi::kDomidSelf ? line : line + " foreigndom=" + std::to_string(foreigndom),
         got, expect);
}

void Script::end_multicall(const std::optional<Expectation>& expect) {
  if (!in_multicall_) fail("'end' without 'multicall'");
  in_multicall_ = false;
  const int64_t r = xen_->multicall(vcpu_, mc_);
  report("multicall (" + std::to_string(mc_.size()) + " entries)", rc(r), expect);
  for (std::size_t i = 0; i < mc_.size(); ++i) {
    report("  [" + std::to_string(i) + "] " + mc_lines_[i], rc(mc_[i].result), mc_expect_[i],
           mc_line_nos_[i]);
  }
}

}  // namespace pib::app::hvs
