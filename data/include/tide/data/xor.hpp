// The bit-stream XOR task of the mmRNN paper (appendix B.1): blocks of 32 random bits labelled by
// their parity, as a dense time series or as run-length events on an irregular time grid.
#pragma once
#include "tide/data/sequence_set.hpp"
#include <cstdint>

namespace tide::data {

enum class XorEncoding {
  dense,  // 32 steps, feature = the bit, dt = 1, no padding
  event,  // one step per run of equal bits: feature = the bit, dt = run length / 32 (the whole
          // block lasts 1 time unit), padded with mask 0 to 32 steps
};

inline constexpr std::int64_t xor_bits = 32;

// n blocks drawn from Philox (seed, stream): label y[i] (i64 [N]) = XOR of block i's bits, i.e. 1
// when it holds an odd number of ones. Two classes; one label per sequence. `block` changes the
// block length from the paper's 32 bits (short blocks make small, fast versions of the task; the
// event encoding still normalises time so that one block lasts 1 unit).
SequenceSet xor_bitstream(std::int64_t n, std::uint64_t seed, XorEncoding encoding, std::uint64_t stream = 0,
                          std::int64_t block = xor_bits);

// The paper's sizes: 100,000 training and 10,000 test blocks, from streams 0 and 1 of `seed`.
// The paper has no validation set; val holds 10,000 more blocks from stream 2 (for early stopping).
Split xor_paper(std::uint64_t seed, XorEncoding encoding);

}  // namespace tide::data
