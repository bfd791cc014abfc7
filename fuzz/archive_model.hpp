// The model and optimizers the archive target restores from a fuzzed checkpoint, and that
// make_archive_seeds.cpp saves (after two training steps) to make the seed archives: a Linear
// layer under "model." and one optimizer of each kind under its own prefix.
#pragma once
#include "tide/autodiff/archive.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/autodiff/ops.hpp"
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tide::fuzz {

struct ArchiveModel {
  Generator gen{7};
  Linear layer{2, 3, gen};
  std::vector<std::pair<std::string, std::unique_ptr<Optimizer>>> optimizers;

  ArchiveModel() {
    optimizers.emplace_back("sgd.", std::make_unique<SGD>(layer.parameters(), SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true}));
    optimizers.emplace_back("adam.", std::make_unique<Adam>(layer.parameters(), AdamOptions{.lr = 1e-2, .amsgrad = true}));
    optimizers.emplace_back("rmsprop.", std::make_unique<RMSprop>(layer.parameters(), RMSpropOptions{.lr = 1e-3, .momentum = 0.5, .centered = true}));
    optimizers.emplace_back("adamax.", std::make_unique<Adamax>(layer.parameters(), AdamaxOptions{.lr = 1e-2}));
  }
  // One training step of `optimizer` on a fixed batch.
  void step(Optimizer& optimizer) {
    optimizer.zero_grad();
    const Tensor x = Tensor::from_vector({0.5, -1.0, 2.0, 0.25}, Shape{2, 2}, DType::f32);
    backward(sum(square(layer(Var(x)))));
    optimizer.step();
  }
};

}  // namespace tide::fuzz
