# `tide train` end to end on a tiny XOR run: a straight run and a run stopped twice (--max-steps)
# and resumed must end with byte-identical checkpoints and best models (bit-exact resume); the
# run directory holds the metrics, curves and summary; `tide eval` scores the best model; a bad
# config is rejected naming the key. Invoked by ctest with -DTIDE=<tide> -DWORK=<scratch dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/tiny.json" [=[
{"name": "tiny", "seed": 3, "data": {"dataset": "xor", "encoding": "event", "train": 200, "test": 64},
 "model": {"type": "mmrnn", "hidden": 8}, "optimizer": {"type": "adam", "lr": 0.01},
 "schedule": {"type": "cosine", "warmup_steps": 2}, "epochs": 3, "batch_size": 32, "grad_clip": 1.0,
 "checkpoint_every": 4}
]=])
include("${CMAKE_CURRENT_LIST_DIR}/train_cli.cmake")

run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/straight" --quiet)
string(JSON steps GET "${out}" steps)
if(NOT steps EQUAL 18)
  message(FATAL_ERROR "expected 18 steps (3 epochs of 6: 180 train sequences after the 10% validation split), summary says ${steps}")
endif()
foreach(f config.json metrics.jsonl curves.svg accuracy.svg checkpoint.tide best.tide summary.json)
  if(NOT EXISTS "${WORK}/straight/${f}")
    message(FATAL_ERROR "the run directory lacks ${f}")
  endif()
endforeach()
file(STRINGS "${WORK}/straight/metrics.jsonl" lines)
list(LENGTH lines n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "metrics.jsonl has ${n} lines, expected one per epoch (3)")
endif()

# Stopped after 5 steps (mid-epoch, between periodic checkpoints), then after 8 more (crossing an
# epoch end), then run to the end.
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/resumed" --quiet --max-steps 5)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/resumed" --quiet --max-steps 8 --resume)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/resumed" --quiet --resume)
foreach(f checkpoint.tide best.tide)
  expect_files(TRUE "${WORK}/straight/${f}" "${WORK}/resumed/${f}" "${f} differs between the straight and the resumed run: resume is not bit-exact")
endforeach()
file(STRINGS "${WORK}/resumed/metrics.jsonl" lines)
list(LENGTH lines n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "the resumed run's metrics.jsonl has ${n} lines, expected 3")
endif()

# --seed overrides the config's seed, is recorded in the run's config.json and changes the run.
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/seed4" --quiet --epochs 1 --seed 4)
file(READ "${WORK}/seed4/config.json" recorded)
string(JSON recorded_seed GET "${recorded}" seed)
if(NOT recorded_seed EQUAL 4)
  message(FATAL_ERROR "--seed 4: the run's config.json records seed ${recorded_seed}")
endif()
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/seed3" --quiet --epochs 1)
expect_files(FALSE "${WORK}/seed3/best.tide" "${WORK}/seed4/best.tide" "--seed 4 trained the same parameters as the config's seed 3")

run_tide(0 eval "${WORK}/straight" --split test)
string(JSON acc GET "${out}" accuracy)
if(acc LESS 0 OR acc GREATER 1)
  message(FATAL_ERROR "tide eval: accuracy ${acc} out of range")
endif()

# A changed config is refused on --resume; unknown keys and bad values name the key.
file(READ "${WORK}/tiny.json" text)
string(REPLACE "\"lr\": 0.01" "\"lr\": 0.02" changed "${text}")
file(WRITE "${WORK}/changed.json" "${changed}")
run_tide(1 train "${WORK}/changed.json" --out "${WORK}/resumed" --quiet --resume)
if(NOT err MATCHES "the config differs")
  message(FATAL_ERROR "a changed config on --resume: unexpected message ${err}")
endif()
string(REPLACE "\"hidden\": 8" "\"hiden\": 8" typo "${text}")
file(WRITE "${WORK}/typo.json" "${typo}")
run_tide(1 train "${WORK}/typo.json" --out "${WORK}/typo" --quiet)
if(NOT err MATCHES "model.hiden: unknown key for model type 'mmrnn'")
  message(FATAL_ERROR "unknown key: unexpected message ${err}")
endif()
file(WRITE "${WORK}/broken.json" "{\"name\": \"x\",\n \"epochs\": 3,,\n}")
run_tide(1 train "${WORK}/broken.json" --quiet)
if(NOT err MATCHES "broken.json:2:")
  message(FATAL_ERROR "malformed JSON: expected file:line in ${err}")
endif()
# --eager is recorded ("compile": false): a resumed eager run stays eager and ends bit-exactly where
# the straight eager run does, and a compiled run resumed with --eager is refused as a changed config.
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/eager_straight" --quiet --eager)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/eager_resumed" --quiet --eager --max-steps 7)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/eager_resumed" --quiet --resume)
expect_files(TRUE "${WORK}/eager_straight/best.tide" "${WORK}/eager_resumed/best.tide" "an eager run resumed without --eager is not bit-exact")
file(READ "${WORK}/eager_resumed/config.json" recorded)
string(JSON compile GET "${recorded}" compile)
if(compile)
  message(FATAL_ERROR "--eager: the run's config.json records compile ${compile}")
endif()
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/compiled_then_eager" --quiet --max-steps 5)
run_tide(1 train "${WORK}/tiny.json" --out "${WORK}/compiled_then_eager" --quiet --resume --eager)
if(NOT err MATCHES "the config differs[^\n]*key 'compile'")
  message(FATAL_ERROR "a compiled run resumed with --eager: unexpected message ${err}")
endif()
message(STATUS "train / resume / eval ok")

# Regularisers (kinetic energy of the mmRNN's ODE part, STEER): they change the run, and a run
# stopped and resumed mid-epoch still ends bit-exactly where the straight one does.
string(REPLACE "\"checkpoint_every\": 4}" "\"checkpoint_every\": 4, \"regularisers\": {\"kinetic\": 0.1, \"steer\": 0.5}}" reg "${text}")
file(WRITE "${WORK}/reg.json" "${reg}")
run_tide(0 train "${WORK}/reg.json" --out "${WORK}/reg_straight" --quiet)
run_tide(0 train "${WORK}/reg.json" --out "${WORK}/reg_resumed" --quiet --max-steps 7)
run_tide(0 train "${WORK}/reg.json" --out "${WORK}/reg_resumed" --quiet --resume)
expect_files(TRUE "${WORK}/reg_straight/best.tide" "${WORK}/reg_resumed/best.tide" "regularised run: best.tide differs after --resume (STEER draws not reproducible?)")
expect_files(FALSE "${WORK}/straight/best.tide" "${WORK}/reg_straight/best.tide" "the regularisers did not change the run")
string(REPLACE "\"steer\": 0.5" "\"steer\": 1.5" bad_reg "${reg}")
file(WRITE "${WORK}/bad_reg.json" "${bad_reg}")
run_tide(1 train "${WORK}/bad_reg.json" --out "${WORK}/bad_reg" --quiet)
if(NOT err MATCHES "regularisers.steer")
  message(FATAL_ERROR "a bad regulariser value: unexpected message ${err}")
endif()
