// SPDX-License-Identifier: MIT
// Do the layers only include downwards? The graph is CMake's own: cmake/PibLayering.cmake writes
// build/layering.txt from the target_link_libraries lines, the same closure each library's include
// root is built from. Every #include under src/ must name a folder its library may see, every
// folder under src/ must belong to a library, and the graph itself must keep hw below Xen and the
// guest, and the guest and Xen apart (a wrong target_link_libraries line fails here too).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#ifndef PIB_LAYERING_FILE
#error "PIB_LAYERING_FILE must name the layering graph CMake writes (tests/CMakeLists.txt)"
#endif

namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

struct Library {
  std::string name;
  Strings folders;  // under src/, owned by this library
  Strings links;    // layers it links itself
  Strings closure;  // layers it links, directly or not
  Strings sees;     // folders its include root shows: its own and those of its closure
};

// `path` (relative to src/, '/'-separated) is `folder` or lies inside it.
bool within(const std::string& path, const std::string& folder) {
  return path == folder || path.rfind(folder + "/", 0) == 0;
}

struct Graph {
  std::map<std::string, Library> libraries;
  std::string error;  // why the file could not be read, if it could not

  const Library* find(const std::string& name) const {
    auto it = libraries.find(name);
    return it == libraries.end() ? nullptr : &it->second;
  }

  // The library whose folder holds `path`, and that folder.
  std::pair<const Library*, std::string> owner(const std::string& path) const {
    std::pair<const Library*, std::string> best{nullptr, ""};
    for (const auto& [name, lib] : libraries) {
      for (const auto& folder : lib.folders) {
        if (within(path, folder) && folder.size() > best.second.size()) best = {&lib, folder};
      }
    }
    return best;
  }

  // Some library's folder lies strictly inside `dir` (as src/pibooster holds pibooster/guest).
  bool holds_a_folder(const std::string& dir) const {
    for (const auto& [name, lib] : libraries) {
      for (const auto& folder : lib.folders) {
        if (folder != dir && within(folder, dir)) return true;
      }
    }
    return false;
  }
};

// Reads the "library <name>" blocks of layering.txt; each following "<key> <value>..." line
// belongs to the last library named.
Graph load_graph(const std::string& file) {
  Graph g;
  std::ifstream in(file);
  if (!in) {
    g.error = "cannot read " + file + " (it is written when CMake configures the build)";
    return g;
  }
  Library* current = nullptr;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream words(line);
    std::string key;
    if (!(words >> key) || key[0] == '#') continue;
    Strings values;
    for (std::string v; words >> v;) values.push_back(v);
    if (key == "library" && values.size() == 1) {
      current = &g.libraries[values[0]];
      current->name = values[0];
      continue;
    }
    Strings* field = nullptr;
    if (current != nullptr) {
      if (key == "folders") field = &current->folders;
      if (key == "links") field = &current->links;
      if (key == "closure") field = &current->closure;
      if (key == "sees") field = &current->sees;
    }
    if (field == nullptr) {
      g.error = file + ":" + std::to_string(number) + ": unexpected line: " + line;
      return g;
    }
    *field = values;
  }
  if (g.libraries.empty()) g.error = file + " names no library";
  return g;
}

const Graph& graph() {
  static const Graph g = load_graph(PIB_LAYERING_FILE);
  return g;
}

fs::path src_root() {
  const char* root = std::getenv("PIB_SOURCE_DIR");
  return root == nullptr ? fs::path() : fs::path(root) / "src";
}

std::string relative_to_src(const fs::path& p, const fs::path& src) {
  return fs::weakly_canonical(p).lexically_relative(fs::weakly_canonical(src)).generic_string();
}

bool is_source(const fs::path& p) {
  static const Strings kExtensions = {".cpp", ".hpp", ".h", ".cc", ".hh", ".ipp", ".inc", ".tpp"};
  return std::find(kExtensions.begin(), kExtensions.end(), p.extension().string()) !=
         kExtensions.end();
}

struct Include {
  std::string file;  // including file, relative to src/
  int line = 0;
  std::string text;    // the line as written
  std::string target;  // the included file, relative to src/ (may not exist)
};

// What `text` (a line of src/`file`) includes, resolved as the compiler does: a quoted name
// first next to the including file, then under the include root, which mirrors src/.
std::optional<Include> parse_include(const fs::path& src, const std::string& file, int line,
                                     const std::string& text) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*([<"])([^">]+)[">])");
  std::smatch m;
  if (!std::regex_search(text, m, kInclude)) return std::nullopt;
  const std::string name = m[2];
  std::string target = fs::path(name).lexically_normal().generic_string();
  if (m[1] == "\"") {
    const fs::path beside = (src / file).parent_path() / name;
    if (fs::exists(beside)) target = relative_to_src(beside, src);
  }
  return Include{file, line, text, target};
}

// Why `inc` breaks the layering, or nothing if its library may see what it includes.
std::optional<std::string> violation(const Graph& g, const Include& inc) {
  const Library* includer = g.owner(inc.file).first;
  const auto [included, included_folder] = g.owner(inc.target);
  if (includer == nullptr || included == nullptr) return std::nullopt;  // not two layers
  for (const auto& folder : includer->sees) {
    if (within(inc.target, folder)) return std::nullopt;
  }
  std::string sees;
  for (const auto& folder : includer->sees) sees += " " + folder;
  return "src/" + inc.file + ":" + std::to_string(inc.line) + ": " + inc.text + "\n    " +
         includer->name + " does not link " + included->name + " (src/" + included_folder +
         "); it sees only" + sees;
}

// Every #include of every source file under src/.
std::vector<Include> all_includes(const fs::path& src) {
  std::vector<Include> result;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file() || !is_source(entry.path())) continue;
    const std::string file = relative_to_src(entry.path(), src);
    std::ifstream in(entry.path());
    std::string text;
    for (int line = 1; std::getline(in, text); ++line) {
      if (auto inc = parse_include(src, file, line, text)) result.push_back(*inc);
    }
  }
  return result;
}

// The folders of `forbidden` that `library` sees (or sees part of).
Strings seen_of(const std::string& library, const Strings& forbidden) {
  const Library* lib = graph().find(library);
  if (lib == nullptr) return {library + " is not in the graph"};
  Strings seen;
  for (const auto& f : forbidden) {
    for (const auto& s : lib->sees) {
      if (within(s, f) || within(f, s)) seen.push_back(f);
    }
  }
  return seen;
}

std::string joined(const Strings& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class Layering : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(graph().error, "");
    ASSERT_FALSE(src_root().empty()) << "PIB_SOURCE_DIR not set";
    ASSERT_TRUE(fs::is_directory(src_root())) << src_root();
  }
};

// Folders above the system layer: nothing below it may see them.
const Strings kAboveSystem = {"system",   "workload", "scenario", "report",
                              "fidelity", "app",      "policies"};

Strings with_above_system(Strings folders) {
  folders.insert(folders.end(), kAboveSystem.begin(), kAboveSystem.end());
  return folders;
}

TEST_F(Layering, GraphIsConsistent) {
  for (const auto& [name, lib] : graph().libraries) {
    EXPECT_FALSE(lib.folders.empty()) << name << " owns no folder";
    Strings expected = lib.folders;
    for (const auto& dep : lib.closure) {
      const Library* d = graph().find(dep);
      ASSERT_NE(d, nullptr) << name << " links " << dep << ", which is not in the graph";
      expected.insert(expected.end(), d->folders.begin(), d->folders.end());
      EXPECT_NE(dep, name) << name << " links itself";
    }
    for (const auto& dep : lib.links) {
      EXPECT_NE(std::find(lib.closure.begin(), lib.closure.end(), dep), lib.closure.end())
          << name << ": direct link " << dep << " missing from its closure";
    }
    std::sort(expected.begin(), expected.end());
    Strings sees = lib.sees;
    std::sort(sees.begin(), sees.end());
    EXPECT_EQ(sees, expected) << name << " sees more or less than it links";
    for (const auto& folder : lib.folders) {
      EXPECT_TRUE(fs::is_directory(src_root() / folder)) << name << ": src/" << folder;
    }
  }
}

TEST_F(Layering, EveryFolderUnderSrcBelongsToALibrary) {
  const fs::path src = src_root();
  Strings orphans;
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string rel = relative_to_src(it->path(), src);
    if (graph().owner(rel).first != nullptr) continue;
    if (it->is_directory()) {
      if (graph().holds_a_folder(rel)) continue;
      orphans.push_back("src/" + rel + "/ belongs to no library (pib_layer in src/CMakeLists.txt)");
      it.disable_recursion_pending();
    } else if (it->path().filename() != "CMakeLists.txt") {
      orphans.push_back("src/" + rel + " lies in no library's folder");
    }
  }
  EXPECT_EQ(joined(orphans), "");
}

TEST_F(Layering, EveryIncludeIsOfALayerTheLibraryLinks) {
  const auto includes = all_includes(src_root());
  Strings bad;
  size_t between_layers = 0;
  for (const auto& inc : includes) {
    if (graph().owner(inc.target).first != nullptr) ++between_layers;
    if (auto v = violation(graph(), inc)) bad.push_back(*v);
  }
  EXPECT_GT(between_layers, 100U) << "the scan found almost no #include of a layer header";
  EXPECT_EQ(joined(bad), "");
}

// The check itself: an upward include is caught, however it is spelled.
TEST_F(Layering, AnUpwardIncludeIsReported) {
  const fs::path src = src_root();
  auto check = [&](const std::string& text) {
    auto inc = parse_include(src, "hw/tlb.cpp", 7, text);
    return inc ? violation(graph(), *inc) : std::nullopt;
  };
  const auto quoted = check(R"(#include "scenario/runner.hpp")");
  ASSERT_TRUE(quoted.has_value());
  EXPECT_NE(quoted->find("src/hw/tlb.cpp:7:"), std::string::npos) << *quoted;
  EXPECT_NE(quoted->find("pib_hw does not link pib_scenario"), std::string::npos) << *quoted;
  EXPECT_TRUE(check("#include <xen/hypervisor.hpp>").has_value());
  EXPECT_TRUE(check(R"(  #  include "../guest/kernel.hpp")").has_value());
  EXPECT_FALSE(check(R"(#include "sim/events.hpp")").has_value());
  EXPECT_FALSE(check(R"(#include "hw/tlb.hpp")").has_value());
  EXPECT_FALSE(check("#include <vector>").has_value());
  EXPECT_FALSE(check(R"(// #include "scenario/runner.hpp")").has_value());
}

TEST_F(Layering, CommonAndSimDependOnNothingAbove) {
  ASSERT_NE(graph().find("pib_common"), nullptr);
  EXPECT_EQ(graph().find("pib_common")->closure, Strings{});
  EXPECT_EQ(seen_of("pib_sim", with_above_system({"hw", "abi", "xen", "guest", "pibooster"})),
            Strings{});
}

TEST_F(Layering, HardwareKnowsNothingAbove) {
  EXPECT_EQ(seen_of("pib_hw", with_above_system({"abi", "xen", "guest", "pibooster", "cost"})),
            Strings{});
}

TEST_F(Layering, AbiKnowsNeitherSide) {
  EXPECT_EQ(seen_of("pib_abi", with_above_system({"xen", "guest", "pibooster"})), Strings{});
}

TEST_F(Layering, GuestReachesXenOnlyThroughAbi) {
  EXPECT_EQ(seen_of("pib_guest", with_above_system({"xen", "pibooster/xen"})), Strings{});
  ASSERT_NE(graph().find("pib_pibooster_guest"), nullptr);
  EXPECT_EQ(seen_of("pib_pibooster_guest", with_above_system({"xen", "pibooster/xen"})), Strings{});
}

TEST_F(Layering, HypervisorKnowsNothingOfTheGuest) {
  EXPECT_EQ(seen_of("pib_xen", with_above_system({"guest", "pibooster/guest"})), Strings{});
  ASSERT_NE(graph().find("pib_pibooster_xen"), nullptr);
  EXPECT_EQ(seen_of("pib_pibooster_xen", with_above_system({"guest", "pibooster/guest"})),
            Strings{});
}

// Narrower than the graph (pib_workload links pib_system, hence all below it): workloads drive
// the assembled system and the guest's interfaces, never the hypervisor or the machine directly.
TEST_F(Layering, WorkloadsUseTheSystemNotItsParts) {
  Strings bad;
  for (const auto& inc : all_includes(src_root())) {
    if (!within(inc.file, "workload")) continue;
    for (const char* folder : {"xen", "hw", "abi"}) {
      if (within(inc.target, folder)) {
        bad.push_back("src/" + inc.file + ":" + std::to_string(inc.line) + ": " + inc.text);
      }
    }
  }
  EXPECT_EQ(joined(bad), "");
}

}  // namespace
