/* hello.c - the program lmbench's lat_proc execs ("hello"): writes one line and exits.
   Built at build time: gcc -O2 -static -o hello hello.c */
#include <unistd.h>
int main(void) {
  write(1, "Hello world\n", 12);
  return 0;
}
