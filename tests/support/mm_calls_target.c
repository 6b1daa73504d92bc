// SPDX-License-Identifier: MIT
// A program for the capture/replay test that makes every memory call a trace records: mmap
// (anonymous and of a file), an mremap that grows in place and one that moves, madvise
// (MADV_DONTNEED), mprotect, munmap of part of a mapping, brk up and down, a 64 GiB
// reservation with three pages touched, a thread, a fork whose child writes and exits, and a
// wait.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void* thread_main(void* arg) {
  char* p = arg;
  p[0] = 1;
  return NULL;
}

static void touch(char* p, size_t len) {
  for (size_t i = 0; i < len; i += 4096) p[i] = 1;
}

int main(int argc, char** argv) {
  const size_t mib = 1 << 20;
  char* a = mmap(NULL, 4 * mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) return 1;
  touch(a, 4 * mib);
  madvise(a, mib, MADV_DONTNEED);
  mprotect(a + mib, mib, PROT_READ);
  munmap(a + 3 * mib, mib);
  // A move: reserve room elsewhere, then mremap there.
  char* target = mmap(NULL, 8 * mib, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (target == MAP_FAILED) return 2;
  char* b = mremap(a + 2 * mib, mib, 2 * mib, MREMAP_MAYMOVE | MREMAP_FIXED, target + 4 * mib);
  if (b == MAP_FAILED) return 3;
  touch(b, 2 * mib);
  char* c = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  touch(c, 16 * 4096);
  if (mremap(c, 64 * 4096, 128 * 4096, 0) == MAP_FAILED) { /* no room to grow: fine */ }
  const int fd = open(argc > 0 ? argv[0] : "/proc/self/exe", O_RDONLY);
  if (fd >= 0) {
    volatile char* f = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f != MAP_FAILED) (void)f[0];
    close(fd);
  }
  char* heap = sbrk(0);
  if (sbrk(64 * 4096) != (void*)-1) {
    touch(heap, 64 * 4096);
    sbrk(-32 * 4096);
  }
  // A huge reservation with three pages touched (as a sanitizer's shadow or a language runtime
  // has): the capture reads only its present stretches.
  char* huge = mmap(NULL, 64UL << 30, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (huge != MAP_FAILED) {
    huge[0] = 1;
    huge[5UL << 30] = 1;
    huge[(64UL << 30) - 1] = 1;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, c) == 0) pthread_join(t, NULL);
  const pid_t child = fork();
  if (child == 0) {
    touch(b, mib);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return 0;
}
