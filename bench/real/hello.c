// SPDX-License-Identifier: MIT
// The tiny static program the real fork+exec case executes: it writes one line and exits.
#include <unistd.h>

int main(void) {
  static const char line[] = "hello\n";
  if (write(STDOUT_FILENO, line, sizeof line - 1) < 0) return 1;
  return 0;
}
