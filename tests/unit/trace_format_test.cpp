// SPDX-License-Identifier: MIT
// The trace file format: every record kind survives a write and a read; truncated, malformed
// and over-limit files are refused with the line and field named.
#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"
#include "trace/trace.hpp"

namespace pib {
namespace {

using trace::Kind;

trace::State small_state() {
  trace::State s;
  s.vmpte_kb = 36;
  s.vmrss_kb = 16;
  s.maps = snapshot::parse_maps(
      "555555554000-555555558000 r--p 00000000 fe:00 42 /usr/bin/dash\n"
      "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n",
      "test");
  s.runs = {{0x555555554000, 2, true, true, false}, {0x7fffffffd000, 2, true, false, true}};
  return s;
}

std::string sample_text() {
  trace::Header h;
  h.command = {"sh", "-c", "true"};
  h.kernel = "6.1.0";
  h.thp = "madvise";
  h.root_pid = 100;
  std::string text = trace::header_line(h);
  trace::Record exec;
  exec.kind = Kind::kExec;
  exec.pid = exec.tid = 100;
  exec.path = "/usr/bin/dash";
  exec.state = small_state();
  text += trace::record_line(exec);
  trace::Record mmap;
  mmap.kind = Kind::kMmap;
  mmap.pid = 100;
  mmap.tid = 101;
  mmap.addr = 0;
  mmap.length = 8192;
  mmap.arg = 3;
  mmap.flags = 0x22;
  mmap.result = 0x7f0000000000;
  text += trace::record_line(mmap);
  trace::Record failed;
  failed.kind = Kind::kMunmap;
  failed.pid = failed.tid = 100;
  failed.addr = 0x1000;
  failed.length = 4096;
  failed.result = -22;
  text += trace::record_line(failed);
  trace::Record fork;
  fork.kind = Kind::kFork;
  fork.pid = fork.tid = 100;
  fork.child = 102;
  fork.flags = 0x1200011;
  fork.state = small_state();
  fork.child_state = small_state();
  text += trace::record_line(fork);
  h.seconds = 0.5;
  h.exit_status = 3;
  text += trace::end_line(h, 4);
  return text;
}

TEST(TraceFormat, EveryFieldSurvivesAWriteAndARead) {
  const trace::Trace t = trace::parse(sample_text(), "t.jsonl");
  EXPECT_EQ(t.header.command, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_EQ(t.header.root_pid, 100);
  EXPECT_EQ(t.header.exit_status, 3);
  ASSERT_EQ(t.records.size(), 4u);
  EXPECT_EQ(t.records[0].kind, Kind::kExec);
  EXPECT_EQ(t.records[0].path, "/usr/bin/dash");
  ASSERT_TRUE(t.records[0].state);
  EXPECT_EQ(t.records[0].state->vmpte_kb, 36u);
  ASSERT_EQ(t.records[0].state->maps.size(), 2u);
  EXPECT_EQ(t.records[0].state->maps[0].name, "/usr/bin/dash");
  EXPECT_EQ(t.records[0].state->maps[1].start, 0x7ffffffde000u);
  ASSERT_EQ(t.records[0].state->runs.size(), 2u);
  EXPECT_TRUE(t.records[0].state->runs[0].file_or_shared_anon);
  EXPECT_TRUE(t.records[0].state->runs[1].exclusive);
  EXPECT_EQ(t.records[1].tid, 101);
  EXPECT_EQ(t.records[1].result, 0x7f0000000000);
  EXPECT_EQ(t.records[1].flags, 0x22u);
  EXPECT_EQ(t.records[2].result, -22);
  EXPECT_EQ(t.records[3].child, 102);
  EXPECT_TRUE(t.records[3].child_state);
  EXPECT_EQ(t.records[1].line, 3u);
}

void expect_error(const std::string& text, const std::string& fragment) {
  try {
    trace::parse(text, "t.jsonl");
    ADD_FAILURE() << "accepted; expected an error containing '" << fragment << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TraceFormat, TruncatedAndMalformedFilesNameLineAndField) {
  const std::string good = sample_text();
  // No closing record: an interrupted capture.
  expect_error(good.substr(0, good.rfind("{\"ev\":\"end\"")), "truncated");
  // Cut in the middle of a line.
  expect_error(good.substr(0, good.size() / 2), "t.jsonl:");
  expect_error("", "empty file");
  expect_error("{\"format\":\"other\"}\n", "not a pibooster trace");
  std::string v2 = good;
  v2.replace(v2.find("\"version\":1"), 11, "\"version\":2");
  expect_error(v2, "header.version");
  std::string bad_addr = good;
  bad_addr.replace(bad_addr.find("\"addr\":\"0x0\""), 12, "\"addr\":\"zz\"");
  expect_error(bad_addr, "t.jsonl:3: mmap.addr");
  std::string bad_kind = good;
  bad_kind.replace(bad_kind.find("\"ev\":\"mmap\""), 11, "\"ev\":\"mmop\"");
  expect_error(bad_kind, "unknown record kind 'mmop'");
  std::string count = good;
  count.replace(count.find("\"records\":4"), 11, "\"records\":5");
  expect_error(count, "end.records");
  std::string bad_run = good;
  bad_run.replace(bad_run.find(",\"f\"]"), 5, ",\"q\"]");
  expect_error(bad_run, "flags must be");
  expect_error(good + "{\"ev\":\"exit\",\"pid\":1}\n", "after the closing");
}

TEST(TraceFormat, ExecWithoutItsAddressSpaceIsRefused) {
  std::string text = sample_text();
  const auto from = text.find(",\"state\":");
  const auto to = text.find("}}", from) + 1;
  text.erase(from, to - from);
  expect_error(text, "exec.state is missing");
}

TEST(TraceFormat, ASnapshotIsAOneProcessTrace) {
  snapshot::Snapshot s = small_state().to_snapshot("snap.json");
  const trace::Trace t = trace::from_snapshot(s, "fork_exit");
  ASSERT_EQ(t.records.size(), 5u);
  EXPECT_EQ(t.records[0].kind, Kind::kStart);
  EXPECT_EQ(t.records[1].kind, Kind::kFork);
  EXPECT_EQ(t.records[2].kind, Kind::kExit);
  EXPECT_EQ(t.records[2].pid, t.records[1].child);
  EXPECT_EQ(trace::from_snapshot(s, "exit").records.size(), 2u);
  EXPECT_THROW(trace::from_snapshot(s, "dance"), InputError);
}

}  // namespace
}  // namespace pib
