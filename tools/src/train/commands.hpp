// Front-ends of `tide train`, `tide eval`, `tide predict`, `tide export`, `tide plot` and `tide data`:
// flags, help texts, usage errors.
#pragma once
#include "cli_args.hpp"

namespace tide::cli {

int train_main(const Args& args);
int eval_main(const Args& args);
int predict_main(const Args& args);
int export_main(const Args& args);
int plot_main(const Args& args);
int data_main(const Args& args);

}  // namespace tide::cli
