// SPDX-License-Identifier: MIT
#include "app/cli.hpp"

#include <ostream>

namespace pib::app {

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  (void)args;
  (void)err;
  out << "pibooster\n";
  return 0;
}

}  // namespace pib::app
