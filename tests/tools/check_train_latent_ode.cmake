# `tide train` on a latent ODE (model type latent_ode) over the periodic toy, end to end: a
# straight run and a run stopped mid-epoch and resumed end with byte-identical checkpoints (the
# held-out steps, z0 samples, STEER and R_K's solve repeat), the metrics log the bound's terms,
# the NFE both ways and the regularisers, the figures are written, and `tide eval` scores the
# best model. Invoked by ctest with -DTIDE=<tide> -DWORK=<scratch dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/train_cli.cmake")
file(WRITE "${WORK}/latent.json" [=[
{"name": "latent", "seed": 3, "dtype": "f64",
 "data": {"dataset": "periodic", "train": 40, "val": 10, "test": 10, "points": 12},
 "model": {"type": "latent_ode", "latent": 3, "encoder_state": 6, "dynamics_hidden": [8], "encoder_hidden": [8],
           "gru_units": 8, "held_out": 0.3, "samples": 2, "kl_annealing": {"wait": 1, "rate": 0.9},
           "solver": {"method": "dopri5", "rtol": 1e-4, "atol": 1e-5}},
 "optimizer": {"type": "adamax", "lr": 0.01}, "epochs": 2, "batch_size": 10, "checkpoint_every": 2,
 "regularisers": {"kinetic": 0.01, "taylor": {"order": 3, "weight": 0.001}, "steer": 1}}
]=])
run_tide(0 train "${WORK}/latent.json" --out "${WORK}/straight" --quiet)
foreach(f metrics.jsonl reconstructions.svg nfe.svg mse.svg best.tide summary.json)
  if(NOT EXISTS "${WORK}/straight/${f}")
    message(FATAL_ERROR "the latent ODE run directory lacks ${f}")
  endif()
endforeach()
file(STRINGS "${WORK}/straight/metrics.jsonl" lines)
list(GET lines 1 second)
foreach(key train_mse val_mse val_mse_ref val_elbo val_iwae val_kl train_nfe train_nfe_mean train_nfe_backward val_nfe train_kl_weight train_kinetic train_taylor)
  string(JSON value ERROR_VARIABLE missing GET "${second}" ${key})
  if(missing)
    message(FATAL_ERROR "metrics.jsonl lacks ${key}: ${second}")
  endif()
endforeach()
string(JSON kl_weight GET "${second}" train_kl_weight)
if(NOT kl_weight EQUAL 0)  # epoch 2 is the first past wait 1: 1 - 0.9^0
  message(FATAL_ERROR "KL annealing: epoch 2 weight ${kl_weight}, expected 0")
endif()
run_tide(0 train "${WORK}/latent.json" --out "${WORK}/resumed" --quiet --max-steps 3)
run_tide(0 train "${WORK}/latent.json" --out "${WORK}/resumed" --quiet --resume)
foreach(f checkpoint.tide best.tide)
  expect_files(TRUE "${WORK}/straight/${f}" "${WORK}/resumed/${f}" "latent ODE: ${f} differs between the straight and the resumed run")
endforeach()
run_tide(0 eval "${WORK}/straight" --split test)
string(JSON mse GET "${out}" mse)
if(NOT mse GREATER 0 OR mse GREATER 10)
  message(FATAL_ERROR "tide eval on the latent ODE: mse ${mse} out of range")
endif()
message(STATUS "latent ODE train / resume / eval / figures ok")
