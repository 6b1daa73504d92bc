// SPDX-License-Identifier: MIT
// I/O workloads: netperf/iperf-style streaming (receive or transmit) and dd/fio-style disk I/O,
// alone or with process churn (fork/exec/exit of another workload) in the same domain. The
// device runs on its own clock; page-table churn runs on the vCPUs, and every IOTLB
// invalidation it causes while the device streams stalls the device's translations.
#include "workload/io_workloads.hpp"

#include <string>

#include "common/error.hpp"
#include "guest/drivers.hpp"

namespace pib::workload {

namespace {

uint64_t invalidations(const sim::Ledger& l) {
  return l.count(sim::Event::kHwIotlbInvPage) + l.count(sim::Event::kHwIotlbInvDomain) +
         l.count(sim::Event::kHwIotlbInvGlobal);
}

guest::BufferPolicy buffer_policy(const Params& p) {
  const std::string b = p.str("buffers", "pool");
  if (b == "pool") return guest::BufferPolicy::kStablePool;
  if (b == "per_request") return guest::BufferPolicy::kPerRequest;
  throw InputError("parameter buffers='" + b + "' (valid: pool, per_request)");
}

// Process churn in the same domain: `ops` iterations of another workload, interleaved with
// the device's work in `ops` + 1 slices.
class Churn {
 public:
  explicit Churn(const Params& p)
      : name_(p.str("churn", "none")), ops_(p.u64("churn_ops", name_ == "none" ? 0 : 1)) {
    if (name_ != "none") {
      if (name_.rfind("net.", 0) == 0 || name_.rfind("disk.", 0) == 0) {
        throw InputError("churn must be a process workload, got '" + name_ + "'");
      }
      w_ = make_workload(name_, Params{});
    }
  }
  void setup(system::GuestSystem& sys) {
    if (w_) w_->setup(sys);
  }
  uint64_t ops() const { return ops_; }
  // Splits `units` of device work into ops() + 1 slices run by `work`, with one churn operation
  // between consecutive slices; the device (clock `clock`) waits out the invalidations each
  // churn operation causes.
  template <typename Work>
  void interleave(system::GuestSystem& sys, uint64_t units, uint32_t clock, Work&& work);
  // One churn operation; returns the IOTLB invalidations it caused.
  uint64_t step(system::GuestSystem& sys) {
    const uint64_t before = invalidations(sys.ledger());
    w_->iteration(sys);
    return invalidations(sys.ledger()) - before;
  }

 private:
  std::string name_;
  uint64_t ops_;
  std::unique_ptr<Workload> w_;
};

// The device waits out each invalidation that lands while it streams.
void stall_device(system::GuestSystem& sys, uint32_t clock, uint64_t invalidations_seen) {
  if (invalidations_seen == 0) return;
  hw::DeviceClockScope scope(sys.ledger(), clock);
  sys.ledger().charge(sim::Event::kHwIommuInvStall, invalidations_seen);
}

template <typename Work>
void Churn::interleave(system::GuestSystem& sys, uint64_t units, uint32_t clock, Work&& work) {
  const uint64_t slices = ops_ + 1;
  uint64_t left = units;
  for (uint64_t sl = 0; sl < slices; ++sl) {
    const uint64_t n = left / (slices - sl);
    left -= n;
    work(n);
    if (sl + 1 < slices) stall_device(sys, clock, step(sys));
  }
}

class NetStream final : public Workload {
 public:
  NetStream(const Params& p, bool receive)
      : receive_(receive),
        packets_(p.u64("packets", 512)),
        bytes_(p.u64("packet_bytes", 1500)),
        ring_(p.u64("ring", 256)),
        policy_(buffer_policy(p)),
        churn_(p) {
    if (bytes_ == 0 || bytes_ > kPageSize) throw InputError("packet_bytes must be 1..4096");
    if (packets_ == 0) throw InputError("packets must be at least 1");
  }
  std::string operation() const override {
    return std::to_string(packets_) + " packets " + (receive_ ? "received" : "sent");
  }
  void setup(system::GuestSystem& sys) override {
    if (sys.nic() == nullptr) model_bug("net workload without a NIC");
    driver_ =
        std::make_unique<guest::NicDriver>(sys.kernel(), 0, static_cast<uint32_t>(ring_), policy_);
    sys.nic()->set_rx_ring(driver_->rx_ring_dma(), driver_->ring_size());
    sys.nic()->set_tx_ring(driver_->tx_ring_dma(), driver_->ring_size());
    churn_.setup(sys);
  }
  void iteration(system::GuestSystem& sys) override {
    churn_.interleave(sys, packets_, system::kNicClock, [&](uint64_t n) {
      while (n > 0) {
        const uint64_t chunk = std::min<uint64_t>(n, driver_->ring_size());
        if (receive_) {
          sys.nic()->receive(chunk, static_cast<uint32_t>(bytes_));
          driver_->rx_poll();
        } else {
          driver_->tx_post(static_cast<uint32_t>(chunk), static_cast<uint32_t>(bytes_));
          sys.nic()->transmit();
          driver_->tx_reap();
        }
        n -= chunk;
      }
    });
  }

 private:
  bool receive_;
  uint64_t packets_, bytes_, ring_;
  guest::BufferPolicy policy_;
  Churn churn_;
  std::unique_ptr<guest::NicDriver> driver_;
};

class DiskIo final : public Workload {
 public:
  DiskIo(const Params& p, bool random)
      : random_(random),
        requests_(p.u64("requests", 64)),
        bytes_(p.u64("request_kib", random ? 4 : 128) * 1024),
        depth_(p.u64("queue_depth", 32)),
        buffer_pages_(p.u64("buffer_pages", 4096)),
        write_(p.u64("write", 0) != 0),
        churn_(p) {
    if (requests_ == 0) throw InputError("requests must be at least 1");
  }
  void set_seed(uint64_t seed) override { seed_ = seed; }
  std::string operation() const override {
    return std::to_string(requests_) + " x " + std::to_string(bytes_ / 1024) + " KiB " +
           (random_ ? "random " : "sequential ") + (write_ ? "writes" : "reads");
  }
  void setup(system::GuestSystem& sys) override {
    if (sys.disk() == nullptr) model_bug("disk workload without a block device");
    driver_ = std::make_unique<guest::BlockDriver>(sys.kernel(), 0, static_cast<uint32_t>(depth_),
                                                   static_cast<uint32_t>(buffer_pages_), seed_);
    sys.disk()->set_queue(driver_->queue_dma(), driver_->queue_depth());
    churn_.setup(sys);
  }
  void iteration(system::GuestSystem& sys) override {
    churn_.interleave(sys, requests_, system::kDiskClock, [&](uint64_t n) {
      while (n > 0) {
        const uint32_t posted = driver_->submit(static_cast<uint32_t>(n),
                                                static_cast<uint32_t>(bytes_), write_, random_);
        if (posted == 0) throw InputError("disk: request larger than the queue depth allows");
        sys.disk()->process();
        driver_->reap();
        n -= posted;
      }
    });
  }

 private:
  bool random_;
  uint64_t requests_, bytes_, depth_, buffer_pages_;
  bool write_;
  uint64_t seed_ = 1;
  Churn churn_;
  std::unique_ptr<guest::BlockDriver> driver_;
};

}  // namespace

const std::vector<std::string>& io_keys_net() {
  static const std::vector<std::string> k = {"packets", "packet_bytes", "ring",
                                             "buffers", "churn",        "churn_ops"};
  return k;
}
const std::vector<std::string>& io_keys_disk() {
  static const std::vector<std::string> k = {
      "requests", "request_kib", "queue_depth", "buffer_pages", "write", "churn", "churn_ops"};
  return k;
}

std::unique_ptr<Workload> make_io_workload(const std::string& name, const Params& params) {
  if (name == "net.rx") return std::make_unique<NetStream>(params, true);
  if (name == "net.tx") return std::make_unique<NetStream>(params, false);
  if (name == "disk.seq") return std::make_unique<DiskIo>(params, false);
  if (name == "disk.rand") return std::make_unique<DiskIo>(params, true);
  return nullptr;
}

}  // namespace pib::workload
