/* SPDX-License-Identifier: MIT
 * A process of a known shape for the footprint tests: it sets itself up, prints "ready",
 * and waits until its stdin closes. Shapes: tiny; heap MIB (a private anonymous mapping
 * written page by page, no transparent huge pages); maps N (N one-page mappings 4 MiB apart,
 * each written). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *shape = argc > 1 ? argv[1] : "tiny";
  long n = argc > 2 ? atol(argv[2]) : 0;
  if (!strcmp(shape, "heap")) {
    size_t len = (size_t)n << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    madvise(p, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < len; i += 4096) p[i] = 1;
  } else if (!strcmp(shape, "maps")) {
    char *base = (char *)0x200000000000UL;
    for (long i = 0; i < n; i++) {
      char *p = mmap(base + i * (4UL << 20), 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED) return 1;
      p[0] = 1;
    }
  }
  printf("ready\n");
  fflush(stdout);
  char buf[16];
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}
