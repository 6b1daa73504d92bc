// SPDX-License-Identifier: MIT
// hv-script operands: numbers, frames (declared names, the running L4, raw mfn:N), PTE values,
// FRAME[IDX] slots and addresses, raw mmu_update pointers, mmuext arguments, flush flags.
#include <cctype>
#include <map>

#include "app/hv_script_session.hpp"

namespace pib::app::hvs {

using namespace hw::pte_bits;

// A non-negative integer (decimal, 0x hex or 0 octal); a sign is refused rather than wrapped.
std::optional<std::string> Script::take_option(std::string& call, const std::string& key) const {
  const std::string marker = " " + key + "=";
  const auto f = call.find(marker);
  if (f == std::string::npos) return std::nullopt;
  const auto end = call.find(' ', f + 1);
  const auto from = f + marker.size();
  std::string value = call.substr(from, end == std::string::npos ? std::string::npos : end - from);
  call.erase(f, end == std::string::npos ? std::string::npos : end - f);
  if (call.find(marker) != std::string::npos) fail(key + "= given twice");
  return value;
}

DomId Script::domid(const std::string& s) const {
  const uint64_t v = number(s);
  if (v > 0xffff) fail("a domain id is 16 bits (at most 0xffff), got '" + s + "'");
  return static_cast<DomId>(v);
}

uint64_t Script::number(const std::string& s) const {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) {
    fail("not a non-negative number: '" + s + "'");
  }
  try {
    std::size_t used = 0;
    const uint64_t v = std::stoull(s, &used, 0);
    if (used != s.size()) fail("not a number: '" + s + "'");
    return v;
  } catch (const std::logic_error&) {
    fail("not a number: '" + s + "'");
  }
}

Script::Named Script::named(const std::string& name) const {
  const auto it = frames_.find(name);
  if (it != frames_.end()) return it->second;
  if (name == "l4") return Named{as_other_, running().pt_base};  // the running kernel L4
  fail("unknown frame '" + name + "' (declare it with 'frame " + name + "')");
}

// A declared frame's machine frame, or a raw one written "mfn:0x123" (for attacks).
Mfn Script::mfn(const std::string& name) const {
  if (name.rfind("mfn:", 0) == 0) return Mfn{number(name.substr(4))};
  const Named n = named(name);
  if (n.other) return other_.p2m.at(n.pfn.value);
  // The guest's own p2m: what populate_physmap handed back replaces the builder's frame.
  if (const auto it = p2m_changes_.find(n.pfn.value); it != p2m_changes_.end()) return it->second;
  return si_.p2m.at(n.pfn.value);
}

uint64_t Script::flag_bit(const std::string& f) {
  static const std::map<std::string, uint64_t> bits{{"P", kPresent},
                                                    {"RW", kRw},
                                                    {"US", kUser},
                                                    {"PWT", kPwt},
                                                    {"PCD", kPcd},
                                                    {"A", kAccessed},
                                                    {"D", kDirty},
                                                    {"PSE", kPse},
                                                    {"PAT", kPat},
                                                    {"G", kGlobal},
                                                    {"NX", kNx},
                                                    {"AVAIL", kAvail0},
                                                    {"GNTTAB", uint64_t{1} << 62}};
  const auto it = bits.find(f);
  return it == bits.end() ? 0 : it->second;
}

// VALUE: a number, or pte(FRAME, FLAGS...) / pte(mfn:0x123, FLAGS...)
uint64_t Script::value_of(const std::string& text) const {
  const std::string t = trim(text);
  if (t.rfind("pte(", 0) != 0) return number(t);
  if (t.back() != ')') fail("pte(...) is missing its ')'");
  const std::string inner = t.substr(4, t.size() - 5);
  const auto comma = inner.find(',');
  const std::string target = trim(inner.substr(0, comma));
  const Mfn m = mfn(target);
  uint64_t flags = 0;
  if (comma != std::string::npos) {
    for (const auto& f : split_ws(inner.substr(comma + 1))) {
      const uint64_t bit = flag_bit(f);
      if (bit == 0)
        fail("unknown PTE flag '" + f + "' (valid: P RW US PWT PCD A D PSE PAT G NX AVAIL GNTTAB)");
      flags |= bit;
    }
  }
  return hw::Pte::make(m, 0).raw() | flags;
}

// NAME[IDX] -> the frame's name and the entry index.
std::pair<std::string, uint64_t> Script::slot(const std::string& text) const {
  const auto open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    fail("expected FRAME[INDEX], got '" + text + "'");
  }
  const uint64_t idx = number(text.substr(open + 1, close - open - 1));
  if (idx >= kEntriesPerTable) fail("entry index " + std::to_string(idx) + " is not below 512");
  return {trim(text.substr(0, open)), idx};
}

// FRAME[IDX] through the running domain's direct map, or any virtual address as a number.
Vaddr Script::address(const std::string& text) const {
  if (text.find('[') != std::string::npos) {
    const auto [name, idx] = slot(text);
    const Named n = named(name);
    if (n.other != as_other_) {
      fail("frame '" + name + "' belongs to the " + (n.other ? "second" : "first") +
           " domain: not in the running domain's direct map (use mfn:N for a raw frame)");
    }
    return abi::direct_map_va(running(), n.pfn, idx * 8);
  }
  return Vaddr{number(text)};
}

// A raw mmu_update ptr: a number, or maddr(FRAME[IDX]) / maddr(FRAME), each optionally
// followed by +N (an offset or command bits: misaligned and undefined commands included).
uint64_t Script::raw_ptr(const std::string& text) const {
  std::string base = text;
  uint64_t plus = 0;
  if (const auto p = text.rfind('+'); p != std::string::npos) {
    base = trim(text.substr(0, p));
    plus = number(trim(text.substr(p + 1)));
  }
  if (base.rfind("maddr(", 0) != 0) return number(base) + plus;
  if (base.back() != ')') fail("maddr(...) is missing its ')'");
  const std::string inner = trim(base.substr(6, base.size() - 7));
  if (inner.find('[') == std::string::npos) return maddr_of(mfn(inner)).value + plus;
  const auto [name, idx] = slot(inner);
  return maddr_of(mfn(name), idx * 8).value + plus;
}

// An mmuext argument: a frame name or mfn:N (its MFN), or a number.
uint64_t Script::argument(const std::string& text) const {
  if (text.rfind("mfn:", 0) == 0 || frames_.count(text) != 0 || text == "l4") {
    return mfn(text).value;
  }
  return number(text);
}

uint64_t Script::flush_flags(const std::vector<std::string>& words, std::size_t from) {
  uint64_t f = 0;
  for (std::size_t i = from; i < words.size(); ++i) {
    if (words[i] == "invlpg") f |= abi::kUvmfInvlpg;
    if (words[i] == "flush") f |= abi::kUvmfTlbFlush;
    if (words[i] == "all") f |= abi::kUvmfAll;
  }
  return f;
}

}  // namespace pib::app::hvs
