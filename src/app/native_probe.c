/* SPDX-License-Identifier: MIT */
/* pibooster-probe: the real operations `pibooster calibrate` times on this machine, in a small
 * static process of its own (as lmbench's lat_proc is), so that what is forked is a small
 * process and not the simulator. Usage: pibooster-probe MODE ROUNDS N [MIB]; prints ROUNDS
 * lines, each the mean nanoseconds of one operation over N of them:
 *   fork             fork, the child _exits, the parent waits          (lat_proc fork)
 *   exec             fork, the child execs this program's "hello"      (lat_proc exec)
 *   vfork-exec       vfork, the child execs "hello", the parent waits  (posix_spawn's way)
 *   fork-heap        as fork, with a MIB MiB anonymous area written first
 *   mmap-touch       mmap MIB MiB anonymous, write one word per page, munmap
 *   hello            (the exec target) return at once
 * Anonymous areas are advised MADV_NOHUGEPAGE: the model maps 4 KiB pages, and transparent
 * huge pages would turn 512 faults into one. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *self;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static char *map_area(size_t bytes) {
  char *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) die("mmap");
  madvise(a, bytes, MADV_NOHUGEPAGE);
  return a;
}

static void touch(volatile char *a, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 4096) a[off] = 1;
}

static void wait_child(pid_t p) {
  int st = 0;
  if (p < 0) die("fork");
  if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child");
}

static void one(const char *mode, size_t bytes) {
  char *argv[] = {self, "hello", NULL};
  if (strcmp(mode, "fork") == 0 || strcmp(mode, "fork-heap") == 0) {
    const pid_t p = fork();
    if (p == 0) _exit(0);
    wait_child(p);
  } else if (strcmp(mode, "exec") == 0) {
    const pid_t p = fork();
    if (p == 0) {
      execv(self, argv);
      _exit(3);
    }
    wait_child(p);
  } else if (strcmp(mode, "vfork-exec") == 0) {
    const pid_t p = vfork();
    if (p == 0) {
      execv(self, argv);
      _exit(3);
    }
    wait_child(p);
  } else if (strcmp(mode, "mmap-touch") == 0) {
    char *a = map_area(bytes);
    touch(a, bytes);
    munmap(a, bytes);
  } else {
    fprintf(stderr, "pibooster-probe: unknown mode '%s'\n", mode);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "hello") == 0) return 0;
  if (argc < 4) {
    fprintf(stderr, "usage: pibooster-probe MODE ROUNDS N [MIB]\n");
    return 2;
  }
  self = argv[0];
  const char *mode = argv[1];
  const long rounds = atol(argv[2]);
  const long n = atol(argv[3]);
  const size_t bytes = (size_t)(argc > 4 ? atol(argv[4]) : 0) << 20;
  if (rounds < 1 || n < 1) return 2;
  if (strcmp(mode, "fork-heap") == 0) touch(map_area(bytes), bytes); /* the parent's heap */
  one(mode, bytes); /* warm: the first of each is slower (page cache, lazy binding) */
  for (long r = 0; r < rounds; ++r) {
    const uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) one(mode, bytes);
    printf("%.1f\n", (double)(now_ns() - t0) / (double)n);
  }
  return 0;
}
