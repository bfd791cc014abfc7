// `tide bench models`: the cost of the sequence models' steps and of a training epoch.
//   ltc_step_ms     biophysical LTC, fully connected N = 64, 16 inputs, batch 64, 6 fused unfolds,
//                   one input step, nothing recorded (target <= 0.7); beside it the same step as
//                   a hand-fused scalar loop (hand_ltc_step_ms), measured in the same run
//   ltc_grad_ms     that step recorded, plus backward
//   cfc_step_us     CfC (default mode, backbone 128), 64 units, batch 64, one input step
//   xor_epoch_s     one training epoch of mmRNN (64 units, Euler x4) on the event-based XOR set
//                   (100,000 sequences, batch 256, RMSprop), the mmRNN paper's setting
// With --peers instead (bench_model_peers.cpp): issue 14's recurrent workloads (ltc_cell_fwd_bwd,
// ltc_train_step, cfc_train_step, mmrnn_train_step) on tide and on PyTorch + ncps in the same run.
#pragma once
#include "peers.hpp"

namespace tide::cli {

struct BenchModelsOptions {
  bool json = false;
  int repeats = 5;
  bool epoch = true;  // --no-epoch skips xor_epoch_s (the slow figure)
  PeerOptions peers;
};

int run_bench_models(const BenchModelsOptions& options);
int run_bench_model_peers(const BenchModelsOptions& options);

}  // namespace tide::cli
