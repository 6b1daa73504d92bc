// SPDX-License-Identifier: MIT
// The real operations the simulator's speed is compared with (bench/ratio_bench.cpp), done by
// this small static program on the machine it runs on, timed by itself (CLOCK_MONOTONIC):
//
//   real_ops fork_exit N              fork, the child _exit(0)s, waitpid; N times
//   real_ops fork_exec N HELLO        fork, the child execve(HELLO) (a tiny static program,
//                                     output to /dev/null), waitpid; N times
//   real_ops fork_heap N MIB          MIB of private anonymous memory written page by page
//                                     first, then fork + _exit + waitpid N times
//   real_ops mmap_touch N MIB         mmap MIB anonymous, write one word per 4 KiB page,
//                                     munmap; N times
//
// Prints one line: the mean nanoseconds per operation. The heap is kept in 4 KiB pages
// (MADV_NOHUGEPAGE), as the model maps it; a 2 MiB mmap gets no huge page unless the host's
// transparent huge pages are set to "always".
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void wait_child(pid_t pid) {
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "real_ops: child failed\n");
    exit(1);
  }
}

static char* touched_area(size_t bytes, int small_pages) {
  char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("real_ops: mmap");
    exit(1);
  }
  if (small_pages) madvise(p, bytes, MADV_NOHUGEPAGE);
  for (size_t off = 0; off < bytes; off += 4096) p[off] = (char)off;
  return p;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: real_ops fork_exit|fork_exec|fork_heap|mmap_touch N [ARG]\n");
    return 2;
  }
  const char* mode = argv[1];
  const long n = atol(argv[2]);
  const char* arg = argc > 3 ? argv[3] : "";
  if (n <= 0) return 2;
  uint64_t start = 0;
  if (strcmp(mode, "fork_exit") == 0) {
    start = now_ns();
    for (long i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid == 0) _exit(0);
      wait_child(pid);
    }
  } else if (strcmp(mode, "fork_exec") == 0) {
    char* const child_argv[] = {(char*)arg, NULL};
    char* const child_env[] = {NULL};
    start = now_ns();
    for (long i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        execve(arg, child_argv, child_env);
        _exit(127);
      }
      wait_child(pid);
    }
  } else if (strcmp(mode, "fork_heap") == 0) {
    const size_t bytes = (size_t)atol(arg) << 20;
    touched_area(bytes, 1);
    start = now_ns();
    for (long i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid == 0) _exit(0);
      wait_child(pid);
    }
  } else if (strcmp(mode, "mmap_touch") == 0) {
    const size_t bytes = (size_t)atol(arg) << 20;
    start = now_ns();
    for (long i = 0; i < n; ++i) {
      char* p = touched_area(bytes, 0);
      munmap(p, bytes);
    }
  } else {
    fprintf(stderr, "real_ops: unknown mode %s\n", mode);
    return 2;
  }
  printf("%.1f\n", (double)(now_ns() - start) / (double)n);
  return 0;
}
