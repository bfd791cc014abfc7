# `tide train` on a continuous normalising flow (model type cnf) over a 2-D toy density, end to
# end: a straight run and a run stopped mid-epoch and resumed end with byte-identical checkpoints
# (the Hutchinson noise and STEER draws repeat), the metrics log the forward and backward NFE and
# the regularisers, the density figure is written, and `tide eval` scores the best model.
# Invoked by ctest with -DTIDE=<tide> -DWORK=<scratch dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/train_cli.cmake")
file(WRITE "${WORK}/flow.json" [=[
{"name": "flow", "seed": 2, "dtype": "f64",
 "data": {"dataset": "toy", "name": "moons", "train": 300, "val": 100, "test": 100},
 "model": {"type": "cnf", "hidden": [8, 8], "solver": {"method": "rk4", "steps": 4, "trace": "hutchinson_vjp"},
           "test_solver": {"method": "rk4", "steps": 4, "trace": "exact"}},
 "optimizer": {"type": "adam", "lr": 0.01}, "epochs": 2, "batch_size": 100, "checkpoint_every": 2,
 "regularisers": {"kinetic": 0.01, "jacobian": 0.01, "taylor": {"order": 2, "weight": 0.001}, "steer": 0.2}}
]=])
run_tide(0 train "${WORK}/flow.json" --out "${WORK}/straight" --quiet)
foreach(f metrics.jsonl density.svg best.tide summary.json)
  if(NOT EXISTS "${WORK}/straight/${f}")
    message(FATAL_ERROR "the CNF run directory lacks ${f}")
  endif()
endforeach()
file(STRINGS "${WORK}/straight/metrics.jsonl" lines)
list(GET lines 0 first)
foreach(key train_nll val_nll train_bits_per_dim train_nfe train_nfe_backward train_K train_B train_R_2 val_nfe)
  string(JSON value ERROR_VARIABLE missing GET "${first}" ${key})
  if(missing)
    message(FATAL_ERROR "metrics.jsonl lacks ${key}: ${first}")
  endif()
endforeach()
run_tide(0 train "${WORK}/flow.json" --out "${WORK}/resumed" --quiet --max-steps 3)
run_tide(0 train "${WORK}/flow.json" --out "${WORK}/resumed" --quiet --resume)
foreach(f checkpoint.tide best.tide)
  expect_files(TRUE "${WORK}/straight/${f}" "${WORK}/resumed/${f}" "CNF: ${f} differs between the straight and the resumed run")
endforeach()
run_tide(0 eval "${WORK}/straight" --split test)
string(JSON nll GET "${out}" nll)
if(NOT nll GREATER 0 OR nll GREATER 10)
  message(FATAL_ERROR "tide eval on the CNF: nll ${nll} out of range")
endif()
run_tide(0 eval "${WORK}/straight" --samples 50 --out "${WORK}/samples.csv" --seed 3)
file(STRINGS "${WORK}/samples.csv" sample_lines)
list(LENGTH sample_lines n)
list(GET sample_lines 0 header)
if(NOT n EQUAL 51 OR NOT header STREQUAL "x0,x1")
  message(FATAL_ERROR "tide eval --samples 50: ${n} lines, header '${header}'")
endif()
run_tide(2 eval "${WORK}/straight" --samples 50)
file(READ "${WORK}/straight/density.svg" svg LIMIT 400000)
if(NOT svg MATCHES "data:image/png;base64,iVBORw0KGgo")
  message(FATAL_ERROR "density.svg holds no PNG heat map")
endif()
message(STATUS "cnf train / resume / eval / figures ok")
