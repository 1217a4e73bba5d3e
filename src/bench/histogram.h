// src/bench/histogram.h — a log-linear latency histogram.
//
// Owns: Histogram, a fixed array of counters over nanoseconds: values below
// 2^kSubBits exactly, above that 2^kSubBits buckets per power of two (a
// bucket is at most 1/32 = 3 % wide relative to its value), as HdrHistogram
// does. Fixed size and no pointers, so that a forked worker can fill one in
// shared memory; recording is a bit scan and an increment. Single writer;
// merge() after the writers are done.
#pragma once

#include <bit>
#include <cstdint>

namespace faultline::bench {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 5;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kMaxBits = 44;  // 2^44 ns: 4.9 hours, then clamped
  static constexpr unsigned kBuckets = (kMaxBits - kSubBits + 1) * kSub;

  void record(uint64_t ns) noexcept {
    ++counts_[bucket_of(ns)];
    ++total_;
  }
  void merge(const Histogram& o) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  void reset() noexcept { *this = Histogram{}; }
  uint64_t count() const noexcept { return total_; }

  // The value below which a fraction q (0..1) of the samples lie: the
  // upper edge of the bucket holding that sample, 0 with no samples.
  uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1, seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return upper_edge(i);
    }
    return upper_edge(kBuckets - 1);
  }
  uint64_t bucket_count(unsigned i) const noexcept { return counts_[i]; }

  static unsigned bucket_of(uint64_t ns) noexcept {
    if (ns < kSub) return static_cast<unsigned>(ns);
    unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(ns));
    if (msb >= kMaxBits) return kBuckets - 1;
    unsigned sub = static_cast<unsigned>(ns >> (msb - kSubBits)) & (kSub - 1);
    return (msb - kSubBits + 1) * kSub + sub;
  }
  // The smallest value of bucket i and the first one past it.
  static uint64_t lower_edge(unsigned i) noexcept {
    if (i < kSub) return i;
    unsigned msb = i / kSub + kSubBits - 1;
    return (uint64_t{1} << msb) + (uint64_t{i % kSub} << (msb - kSubBits));
  }
  static uint64_t upper_edge(unsigned i) noexcept { return i + 1 < kBuckets ? lower_edge(i + 1) : lower_edge(i) * 2; }

 private:
  uint64_t counts_[kBuckets] = {};
  uint64_t total_ = 0;
};

}  // namespace faultline::bench
