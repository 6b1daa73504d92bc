// SPDX-License-Identifier: MIT
#include "scenario/scenario.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "cost/toml_text.hpp"
#include "scenario/policy.hpp"

namespace pib::scenario {

namespace {

std::string at(const std::string& origin, const toml::node& n) {
  return origin + ":" + std::to_string(n.source().begin.line);
}

void only_keys(const std::string& origin, const toml::table& t, const std::string& section,
               const std::set<std::string>& keys) {
  for (const auto& [k, v] : t) {
    if (keys.count(std::string(k.str())) != 0) continue;
    std::string valid;
    for (const auto& key : keys) valid += (valid.empty() ? "" : ", ") + key;
    throw InputError(at(origin, v) + ": unknown key " + section + "." + std::string(k.str()) +
                     " (valid: " + valid + ")");
  }
}

std::string get_string(const std::string& origin, const toml::table& t, const std::string& key,
                       const std::string& fallback, bool required = false) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (required) throw InputError(at(origin, t) + ": missing " + key);
    return fallback;
  }
  if (!n->is_string()) throw InputError(at(origin, *n) + ": " + key + " must be a string");
  return n->as_string()->get();
}

uint64_t get_uint(const std::string& origin, const toml::table& t, const std::string& key,
                  uint64_t fallback, uint64_t lo, uint64_t hi) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return fallback;
  const auto v = n->value<int64_t>();
  if (!n->is_integer() || !v || *v < 0 || static_cast<uint64_t>(*v) < lo ||
      static_cast<uint64_t>(*v) > hi) {
    throw InputError(at(origin, *n) + ": " + key + " must be an integer in " + std::to_string(lo) +
                     ".." + std::to_string(hi));
  }
  return static_cast<uint64_t>(*v);
}

const toml::table* section(const std::string& origin, const toml::table& doc, const char* name) {
  const toml::node* n = doc.get(name);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) throw InputError(at(origin, *n) + ": [" + name + "] must be a table");
  return n->as_table();
}

std::string quoted(const std::string& s) {
  return cost::toml_quoted(s);
}

}  // namespace

Scenario Scenario::parse(const std::string& text, const std::string& origin) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw InputError(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
  only_keys(origin, doc, "",
            {"scenario", "machine", "xen", "guest", "policies", "workload", "pibooster", "paper"});
  Scenario s;
  s.origin = origin;
  const toml::table* head = section(origin, doc, "scenario");
  if (head == nullptr) throw InputError(origin + ": missing [scenario] with a name");
  only_keys(origin, *head, "scenario", {"name", "description", "iterations", "warmup", "seed"});
  s.name = get_string(origin, *head, "name", "", true);
  s.description = get_string(origin, *head, "description", "");
  s.iterations = get_uint(origin, *head, "iterations", s.iterations, 1, 1000000);
  s.warmup = get_uint(origin, *head, "warmup", s.warmup, 0, 1000000);
  s.seed = get_uint(origin, *head, "seed", s.seed, 0, UINT32_MAX);
  if (const toml::table* m = section(origin, doc, "machine")) {
    only_keys(origin, *m, "machine",
              {"memory_mib", "vcpus", "iommu", "caching_mode", "iotlb_entries", "iotlb_ways"});
    s.memory_mib = get_uint(origin, *m, "memory_mib", s.memory_mib, 16, 65536);
    s.vcpus = static_cast<uint32_t>(get_uint(origin, *m, "vcpus", s.vcpus, 1, kMaxCpus));
    const std::string mode = get_string(origin, *m, "iommu", "none");
    try {
      s.iommu = xen::iommu_mode_by_name(mode);
    } catch (const InputError& e) {
      throw InputError(at(origin, *m->get("iommu")) + ": machine.iommu: " + e.what());
    }
    if (const toml::node* cm = m->get("caching_mode")) {
      if (!cm->is_boolean())
        throw InputError(at(origin, *cm) + ": machine.caching_mode must be true or false");
      s.iommu_params.caching_mode = cm->as_boolean()->get();
    }
    s.iommu_params.iotlb_entries = static_cast<uint32_t>(
        get_uint(origin, *m, "iotlb_entries", s.iommu_params.iotlb_entries, 1, 65536));
    s.iommu_params.iotlb_ways =
        static_cast<uint32_t>(get_uint(origin, *m, "iotlb_ways", s.iommu_params.iotlb_ways, 1, 64));
    if (s.iommu_params.iotlb_entries % s.iommu_params.iotlb_ways != 0) {
      throw InputError(at(origin, *m) + ": machine.iotlb_entries must be a multiple of iotlb_ways");
    }
  }
  if (const toml::table* x = section(origin, doc, "xen")) {
    only_keys(origin, *x, "xen", {"generation"});
    const std::string g = get_string(origin, *x, "generation", "modern");
    try {
      s.xen_generation = xen::xen_generation_by_name(g);
    } catch (const InputError& e) {
      throw InputError(at(origin, *x->get("generation")) + ": xen.generation: " + e.what());
    }
  }
  if (const toml::table* g = section(origin, doc, "guest")) {
    only_keys(origin, *g, "guest", {"linux", "randomize_va_space", "hz"});
    if (const toml::node* l = g->get("linux")) {
      const auto v = l->value<int64_t>();
      try {
        s.linux_generation = guest::linux_generation_by_name(
            l->is_integer() ? std::to_string(*v) : l->value_or(std::string("?")));
      } catch (const InputError& e) {
        throw InputError(at(origin, *l) + ": guest.linux: " + e.what());
      }
    }
    s.randomize_va_space = static_cast<int>(get_uint(origin, *g, "randomize_va_space", 2, 0, 2));
    s.hz = static_cast<uint32_t>(get_uint(origin, *g, "hz", 0, 0, 10000));
  }
  if (const toml::node* p = doc.get("policies")) {
    const toml::array* arr = p->as_array();
    if (arr == nullptr || arr->empty()) {
      throw InputError(at(origin, *p) + ": policies must be a non-empty array of names");
    }
    s.policies.clear();
    for (const auto& el : *arr) {
      if (!el.is_string()) throw InputError(at(origin, el) + ": policy names are strings");
      system::GuestSystemConfig probe;
      apply_policy(el.as_string()->get(), probe);  // validates the name
      s.policies.push_back(el.as_string()->get());
    }
  }
  if (const toml::table* pb = section(origin, doc, "pibooster")) {
    only_keys(origin, *pb, "pibooster",
              {"capacity", "low_watermark", "high_watermark", "refill_batch", "release_batch"});
    auto& c = s.ptcache;
    c.capacity = static_cast<uint32_t>(get_uint(origin, *pb, "capacity", c.capacity, 1, 1u << 20));
    c.low_watermark =
        static_cast<uint32_t>(get_uint(origin, *pb, "low_watermark", c.low_watermark, 0, 1u << 20));
    c.high_watermark = static_cast<uint32_t>(
        get_uint(origin, *pb, "high_watermark", c.high_watermark, 1, 1u << 20));
    c.refill_batch =
        static_cast<uint32_t>(get_uint(origin, *pb, "refill_batch", c.refill_batch, 1, 4096));
    c.release_batch =
        static_cast<uint32_t>(get_uint(origin, *pb, "release_batch", c.release_batch, 1, 4096));
    if (c.low_watermark >= c.high_watermark || c.high_watermark > c.capacity) {
      throw InputError(at(origin, *pb) + ": need low_watermark < high_watermark <= capacity");
    }
  }
  if (const toml::table* pp = section(origin, doc, "paper")) {
    only_keys(origin, *pp, "paper", {"claim", "latency_change_pct", "pt_work_change_pct"});
    s.paper_claim = get_string(origin, *pp, "claim", "");
    auto num = [&](const char* key) -> std::optional<double> {
      const toml::node* n = pp->get(key);
      if (n == nullptr) return std::nullopt;
      const auto v = n->value<double>();
      if (!v) throw InputError(at(origin, *n) + ": paper." + key + " must be a number");
      return *v;
    };
    s.paper_latency_pct = num("latency_change_pct");
    s.paper_pt_work_pct = num("pt_work_change_pct");
  }
  const toml::table* w = section(origin, doc, "workload");
  if (w == nullptr) throw InputError(origin + ": missing [workload] with a name");
  only_keys(origin, *w, "workload", {"name", "params"});
  s.workload = get_string(origin, *w, "name", "", true);
  if (const toml::node* pn = w->get("params")) {
    const toml::table* pt = pn->as_table();
    if (pt == nullptr) throw InputError(at(origin, *pn) + ": workload.params must be a table");
    for (const auto& [k, v] : *pt) {
      if (v.is_integer()) {
        s.params.set(std::string(k.str()), std::to_string(*v.value<int64_t>()));
      } else if (v.is_string()) {
        s.params.set(std::string(k.str()), v.as_string()->get());
      } else {
        throw InputError(at(origin, v) + ": workload parameter " + std::string(k.str()) +
                         " must be an integer or a string");
      }
    }
  }
  try {
    workload::make_workload(s.workload, s.params);  // validates name and parameter keys
  } catch (const InputError& e) {
    throw InputError(at(origin, *w) + ": " + e.what());
  }
  return s;
}

Scenario Scenario::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open scenario '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

std::string Scenario::to_toml() const {
  std::ostringstream o;
  std::string pol;
  for (const auto& p : policies) pol += (pol.empty() ? "" : ", ") + quoted(p);
  // Top-level keys must come before the first table.
  o << "# Resolved scenario (from " << origin << ")\npolicies = [" << pol
    << "]\n\n[scenario]\nname = " << quoted(name) << "\ndescription = " << quoted(description)
    << "\niterations = " << iterations << "\nwarmup = " << warmup << "\nseed = " << seed
    << "\n\n[machine]\nmemory_mib = " << memory_mib << "\nvcpus = " << vcpus
    << "\niommu = " << quoted(std::string(name_of(iommu)))
    << "\ncaching_mode = " << (iommu_params.caching_mode ? "true" : "false")
    << "\niotlb_entries = " << iommu_params.iotlb_entries
    << "\niotlb_ways = " << iommu_params.iotlb_ways
    << "\n\n[xen]\ngeneration = " << quoted(std::string(name_of(xen_generation)))
    << "\n\n[guest]\nlinux = " << name_of(linux_generation)
    << "\nrandomize_va_space = " << randomize_va_space << "\nhz = " << hz
    << "\n\n[workload]\nname = " << quoted(workload) << "\n";
  o << "\n[pibooster]\ncapacity = " << ptcache.capacity
    << "\nlow_watermark = " << ptcache.low_watermark
    << "\nhigh_watermark = " << ptcache.high_watermark
    << "\nrefill_batch = " << ptcache.refill_batch << "\nrelease_batch = " << ptcache.release_batch
    << "\n";
  if (!paper_claim.empty() || paper_latency_pct || paper_pt_work_pct) {
    o << "\n[paper]\nclaim = " << quoted(paper_claim) << "\n";
    if (paper_latency_pct) o << "latency_change_pct = " << *paper_latency_pct << "\n";
    if (paper_pt_work_pct) o << "pt_work_change_pct = " << *paper_pt_work_pct << "\n";
  }
  if (!params.values().empty()) {
    o << "\n[workload.params]\n";
    for (const auto& [k, v] : params.values()) o << k << " = " << quoted(v) << "\n";
  }
  return o.str();
}

Scenario find_scenario(const std::string& name_or_path) {
  for (const auto& b : builtin_scenarios()) {
    if (b.name == name_or_path) return Scenario::parse(b.text, "built-in:" + b.name);
  }
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".toml")) {
    return Scenario::load(name_or_path);
  }
  std::string valid;
  for (const auto& b : builtin_scenarios()) valid += (valid.empty() ? "" : ", ") + b.name;
  throw InputError("no scenario '" + name_or_path + "' (built-in: " + valid +
                   "; or give a path to a .toml file)");
}

}  // namespace pib::scenario
