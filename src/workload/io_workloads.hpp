// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "workload/workload.hpp"

namespace pib::workload {

const std::vector<std::string>& io_keys_net();
const std::vector<std::string>& io_keys_disk();
// nullptr when `name` is not an I/O workload.
std::unique_ptr<Workload> make_io_workload(const std::string& name, const Params& params);

}  // namespace pib::workload
