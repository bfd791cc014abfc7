// Name-keyed tables: every registry a user reaches by name (ODE methods, gradient kinds,
// activations, cell types, datasets, optimizers, schedules) keeps its names in one table of
// {name, value} rows, so the names a lookup accepts and the names its error lists cannot disagree.
#pragma once
#include "tide/core/error.hpp"
#include <fmt/ranges.h>
#include <string>
#include <string_view>
#include <vector>

namespace tide {

template <class Value>
struct Named {
  std::string_view name;  // a string literal
  Value value;
};

// The names of a table's rows, in table order.
template <class Table>
std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> out;
  for (const auto& row : table) out.emplace_back(row.name);
  return out;
}

// The value of the row called `name`; an unknown name throws tide::Error
// "unknown <what> '<name>' (known: a, b, c)".
template <class Table>
const auto& lookup(const Table& table, std::string_view name, std::string_view what) {
  for (const auto& row : table)
    if (row.name == name) return row.value;
  fail("unknown {} '{}' (known: {})", what, name, fmt::join(names_of(table), ", "));
}

}  // namespace tide
