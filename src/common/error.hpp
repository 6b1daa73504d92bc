// SPDX-License-Identifier: MIT
// Errors for bad input and broken invariants. Model-level refusals (a hypercall Xen rejects) are
// not exceptions: they are return codes in the ABI. Exceptions are for the user's mistakes
// (malformed script, scenario, profile) and for model bugs.
#pragma once

#include <stdexcept>
#include <string>

namespace pib {

// A user-supplied file or value is malformed. The message names what and where.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The model reached a state that must be impossible; always a bug in pibooster.
class ModelBug : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] inline void model_bug(const std::string& what) {
  throw ModelBug("model bug: " + what);
}

}  // namespace pib
