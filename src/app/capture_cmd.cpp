// SPDX-License-Identifier: MIT
#include "app/capture_cmd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <streambuf>

#include "capture/tracer.hpp"
#include "common/error.hpp"

namespace pib::app {

namespace {

// An output stream buffer over a file descriptor opened with O_NOFOLLOW, so the trace goes to
// the file as the capture runs without following a symlink planted at its name.
class FdOut final : public std::streambuf {
 public:
  explicit FdOut(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw InputError("capture: cannot write " + path + ": " + std::strerror(errno) +
                       (errno == ELOOP ? " (it is a symlink)" : ""));
    }
    setp(buf_, buf_ + sizeof buf_);
  }
  FdOut(const FdOut&) = delete;
  FdOut& operator=(const FdOut&) = delete;
  ~FdOut() override {
    try {
      flush();
    } catch (const InputError&) {  // already reported by the explicit flush after the capture
    }
    ::close(fd_);
  }
  uint64_t written() const { return written_; }
  void flush() {
    const char* p = pbase();
    while (p < pptr()) {
      const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw InputError("capture: cannot write " + path_ + ": " + std::strerror(errno));
      p += n;
      written_ += static_cast<uint64_t>(n);
    }
    setp(buf_, buf_ + sizeof buf_);
  }

 protected:
  int_type overflow(int_type c) override {
    flush();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    flush();
    return 0;
  }

 private:
  std::string path_;
  int fd_ = -1;
  char buf_[1 << 16];
  uint64_t written_ = 0;
};

}  // namespace

const char* const kCaptureHelp =
    R"(usage: pibooster capture [-o FILE] [--overhead] -- COMMAND [ARGS...]

Runs COMMAND on this machine under ptrace and records, for every process it creates (forks,
vforks, threads and execs followed): the process tree in event order, the memory system calls
(mmap, munmap, mprotect, brk, mremap, madvise) with their arguments and results, and each
process's address space (mappings, present pages from /proc/PID/pagemap, VmPTE) after every
fork and exec, before every call that can remove pages, and before it exits. Only those calls
stop the program (a seccomp filter lets every other call run untraced).

  -o FILE      where the trace goes (default: trace.jsonl; an existing file is replaced, a
               symlink at that name is refused)
  --overhead   run COMMAND once untraced first and report the capture's time against it

The trace is JSON Lines, version 1 (docs/capture-replay.md). Run it on the model with
'pibooster replay FILE'. The command's exit status is reported; capture exits 0 when the trace
was written, whatever the command's status.
)";

int cmd_capture(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string path = "trace.jsonl";
  bool overhead = false;
  std::size_t i = 1;
  for (; i < args.size(); ++i) {
    if (args[i] == "--") {
      ++i;
      break;
    }
    if (args[i] == "-o" && i + 1 < args.size()) {
      path = args[++i];
    } else if (args[i] == "--overhead") {
      overhead = true;
    } else {
      err << "capture: unknown option '" << args[i] << "' (COMMAND goes after --)\n"
          << kCaptureHelp;
      return 2;
    }
  }
  capture::CaptureOptions options;
  options.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (options.command.empty()) {
    err << "capture: no command given\n" << kCaptureHelp;
    return 2;
  }
  const double alone = overhead ? capture::run_untraced(options) : 0.0;
  // Written to the file as the capture goes (a trace can be large), then closed by the "end"
  // record: an interrupted capture leaves a trace that replay reports as truncated.
  FdOut file(path);
  std::ostream trace_out(&file);
  const capture::CaptureSummary s = capture::capture(options, trace_out);
  trace_out.flush();
  file.flush();
  out << "captured '" << options.command[0] << "': " << s.processes << " process(es), " << s.threads
      << " thread(s), " << s.records << " records, " << s.states << " address spaces read ("
      << s.skipped_states << " not needed), " << s.stops << " stops; exit status " << s.exit_status
      << "\n";
  out << std::fixed << std::setprecision(3) << "time: " << s.seconds << " s under capture";
  if (overhead) {
    out << ", " << alone << " s alone (" << std::setprecision(1)
        << (alone > 0 ? s.seconds / alone : 0.0) << "x)";
  }
  out << "\n";
  if (s.lost_states != 0) {
    out << "note: " << s.lost_states << " address space(s) could not be read (killed processes)\n";
  }
  out << "trace: " << path << " (" << file.written() << " bytes); replay it with 'pibooster replay "
      << path << "'\n";
  return 0;
}

}  // namespace pib::app
