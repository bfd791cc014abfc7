// Custom backward functions: a node whose gradient is computed by user code instead of the op
// table, for computations that must not keep their intermediate tape (checkpointed and adjoint
// solves recompute or re-integrate in their backward pass). The backward is written with Var ops
// like every other rule, so it records when grad mode is on during the sweep.
#pragma once
#include "tide/autodiff/var.hpp"
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tide {

class CustomBackward {
public:
  virtual ~CustomBackward() = default;
  virtual const char* name() const = 0;
  // The gradients of the inputs given the gradient g of the output, one per input (undefined
  // where none flows); each must have its input's shape.
  virtual std::vector<Var> backward(const Var& g) = 0;

  // The inputs whose gradients this node can add into tensors the sweep holds, instead of
  // returning them (a compiled function's backward plan adds a weight's gradient inside its GEMM,
  // as beta = 1, rather than making it for the sweep to add). Empty for most nodes.
  std::span<const int> adds_into() const { return adds_into_; }
  // Called instead of backward(g) when adds_into() is not empty and the sweep does not record:
  // into[k], for some of the inputs adds_into() names, is a contiguous tensor of input k's shape
  // and dtype, private to the sweep, to add input k's gradient into in place; elsewhere undefined.
  // Returns the gradients as backward does, undefined for those it added. The default adds none.
  virtual std::vector<Var> backward_into(const Var& g, const std::vector<Tensor>& into) {
    (void)into;
    return backward(g);
  }

protected:
  std::span<const int> adds_into_;  // set by a subclass, over indices it keeps alive
};

// Records `out` as computed from `inputs` by `fn` (when grad mode is on and an input requires a
// gradient); returns the output Var. `inputs` may be held by `fn` itself: it is read only while
// `fn` is alive.
Var record_custom(Tensor out, const std::vector<Var>& inputs, std::shared_ptr<CustomBackward> fn);

// The storage versions of the values a custom backward reads, taken when the node is recorded;
// check() fails, naming the op and the value ("input 2", "output"), if one was modified in place
// since, as the op table's rules do (grad.cpp's check_saved). Values and names come as any
// contiguous range (a backward's check builds no vector) or as braced lists; values also as
// pointers (null or undefined: nothing saved there), so a node can name what it already holds
// without copying the tensors. Up to four versions live in the object itself.
class SavedVersions {
public:
  SavedVersions() = default;
  explicit SavedVersions(std::span<const Tensor> values);
  explicit SavedVersions(std::span<const Tensor* const> values);
  explicit SavedVersions(std::initializer_list<Tensor> values) : SavedVersions(std::span<const Tensor>(values.begin(), values.size())) {}
  void check(const char* op, std::span<const Tensor> values, std::span<const char* const> names = {}) const;
  void check(const char* op, std::span<const Tensor* const> values, std::span<const char* const> names = {}) const;
  void check(const char* op, std::initializer_list<Tensor> values, std::initializer_list<const char*> names = {}) const {
    check(op, std::span<const Tensor>(values.begin(), values.size()), std::span<const char* const>(names.begin(), names.size()));
  }
  // The same for n values handed out one at a time: get(i) a const Tensor* (null: none), name(i)
  // what value i is; nothing is gathered into a vector.
  template <class Get> static SavedVersions of(std::size_t n, Get get) {
    SavedVersions v;
    v.take(n, get);
    return v;
  }
  template <class Get, class Name> void check_each(const char* op, std::size_t n, Get get, Name name) const {
    for (std::size_t i = 0; i < n && i < size(); ++i) {
      const Tensor* t = get(i);
      if (t && t->defined() && t->version() != versions()[i]) fail_modified(op, name(i), *t, versions()[i]);
    }
  }

private:
  template <class Get> void take(std::size_t n, Get get) {
    if (n > inline_.size()) spill_.assign(n, 0);
    else spill_.clear(), inline_count_ = n;
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor* t = get(i);
      versions()[i] = t && t->defined() ? t->version() : 0;
    }
  }
  [[noreturn]] static void fail_modified(const char* op, const std::string& what, const Tensor& t, std::uint64_t then);
  // more than four versions live in spill_, else the first inline_count_ of inline_ (a moved-from
  // object, whose spill_ is empty, still reads within inline_)
  std::size_t size() const { return spill_.empty() ? inline_count_ : spill_.size(); }
  std::uint64_t* versions() { return spill_.empty() ? inline_.data() : spill_.data(); }
  const std::uint64_t* versions() const { return spill_.empty() ? inline_.data() : spill_.data(); }

  std::array<std::uint64_t, 4> inline_{};
  std::vector<std::uint64_t> spill_;
  std::size_t inline_count_ = 0;
};

// A fused op's backward under create_graph: the vector-Jacobian product of `composite` (the op
// written in Var ops) at `inputs` for one cotangent per output, recorded so that it can be
// differentiated again (ENGINE rule 1). Inputs that require no gradient get undefined Vars.
std::vector<Var> composite_vjp(const std::function<std::vector<Var>(const std::vector<Var>&)>& composite,
                               const std::vector<Var>& inputs, const std::vector<Var>& cotangents);

// For a custom backward that differentiates a re-run with grad() (recorded_from set): grad() gives
// a node passed at two positions its whole gradient at each, where the node's gradient wants it
// once. Leaves it at the first position of each node in `wrt` and clears d at the others.
void drop_repeats(const std::vector<Var>& wrt, std::vector<Var>& d);

// The sequence number the next recorded node on this thread gets (reading it takes nothing).
// Numbers are ordered within a thread only: each thread takes them in blocks.
std::uint64_t next_node_sequence();
// The next sequence number, taken (a new node's).
std::uint64_t take_node_sequence();
// A number above every one any thread has taken so far, from which this thread's next nodes
// number (one atomic operation): take it before a computation, as closed_over's `since` or
// GradOptions::recorded_from, so that values made before it, on any thread (a model's parameters
// built on another), count as made before.
std::uint64_t node_sequence_barrier();
// The nodes recorded on this thread since it started (the difference of two readings counts a
// stretch's nodes).
std::uint64_t thread_node_count();

// The values recorded before sequence number `since` that `output`'s computation (the nodes
// recorded at or after `since`) reads directly: the parameters and other closed-over values a
// function used. The returned Vars carry the nodes; their values are zero placeholders of the
// right shape, for use as grad() inputs and custom-node inputs only.
std::vector<Var> closed_over(const Var& output, std::uint64_t since);

}  // namespace tide
