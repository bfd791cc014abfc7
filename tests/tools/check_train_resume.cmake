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
if(err MATCHES "BLAS threads")
  message(FATAL_ERROR "--resume with the BLAS thread count the run had: warned anyway\n${err}")
endif()

# The checkpoint records the BLAS thread count: a resume with another one (GEMMs split their sums
# by thread, so it is valid but not bit-exact) is warned about, not refused.
foreach(threads 1 2)
  set(args train "${WORK}/tiny.json" --out "${WORK}/blas" --quiet --max-steps 5)
  if(threads EQUAL 2)
    set(args train "${WORK}/tiny.json" --out "${WORK}/blas" --quiet --resume)
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env TIDE_BLAS_THREADS=${threads} "${TIDE}" ${args}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "TIDE_BLAS_THREADS=${threads} tide ${args}: exit ${rc}\n${err}")
  endif()
endforeach()
# a serial OpenBLAS runs one thread whatever is asked: then there is nothing to warn about
execute_process(COMMAND ${CMAKE_COMMAND} -E env TIDE_BLAS_THREADS=2 "${TIDE}" bench taylor --size 2,2,1 --kmax 1 --repeats 1 --json
                OUTPUT_VARIABLE probe RESULT_VARIABLE probe_rc)
set(blas_threads 1)
if(probe_rc EQUAL 0)
  string(JSON blas_threads ERROR_VARIABLE probe_error GET "${probe}" blas threads)
endif()
if(NOT blas_threads EQUAL 2)
  message(STATUS "skipped: the BLAS-thread warning on --resume (TIDE_BLAS_THREADS=2 runs ${blas_threads} thread here: a serial OpenBLAS)")
elseif(NOT err MATCHES "warning: [^\n]*checkpoint.tide was written with 1 BLAS thread, this run has 2: the resumed run is not bit-exact")
  message(FATAL_ERROR "--resume with 2 BLAS threads of a run stopped with 1: no warning\n${err}")
endif()

# The checkpoint records OpenBLAS's kernel set: a resume on another one (another CPU, or
# OPENBLAS_CORETYPE) is warned about, not refused. A build whose OpenBLAS picks no kernels at run
# time (not DYNAMIC_ARCH) keeps its own set whatever is asked: nothing to warn about then.
execute_process(COMMAND ${CMAKE_COMMAND} -E env OPENBLAS_CORETYPE=Sandybridge "${TIDE}" bench taylor --size 2,2,1 --kmax 1 --repeats 1 --json
                OUTPUT_VARIABLE probe RESULT_VARIABLE probe_rc)
set(core_type "")
if(probe_rc EQUAL 0)
  string(JSON core_type ERROR_VARIABLE probe_error GET "${probe}" blas core_type)
endif()
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/kernels" --quiet --max-steps 5)
if(NOT core_type STREQUAL "Sandybridge")
  message(STATUS "skipped: the BLAS-kernel warning on --resume (OPENBLAS_CORETYPE=Sandybridge runs '${core_type}' kernels here)")
else()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env OPENBLAS_CORETYPE=Sandybridge "${TIDE}" train "${WORK}/tiny.json" --out "${WORK}/kernels"
                  --quiet --resume OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT err MATCHES "warning: [^\n]*checkpoint.tide was written with OpenBLAS's [^ ]+ kernels, this run has its Sandybridge kernels")
    message(FATAL_ERROR "--resume on OpenBLAS's Sandybridge kernels of a run stopped on others: exit ${rc}, no warning\n${err}")
  endif()
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
# --resume of `run` with tiny.json's `from` replaced by `to` is refused with a message matching `expect`
function(expect_resume_refused run from to expect)
  string(REPLACE "${from}" "${to}" edited "${text}")
  string(MAKE_C_IDENTIFIER "${to}" name)
  file(WRITE "${WORK}/edited_${name}.json" "${edited}")
  run_tide(1 train "${WORK}/edited_${name}.json" --out "${WORK}/${run}" --quiet --resume)
  if(NOT err MATCHES "${expect}")
    message(FATAL_ERROR "--resume with ${to} in the config: unexpected message ${err}")
  endif()
endfunction()
expect_resume_refused(resumed "\"lr\": 0.01" "\"lr\": 0.02" "the config differs")
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
# eval rebuilds an eager run eagerly, so it reproduces the run's own test score bit for bit
# (compiled plans may differ in float rounding; test_trainer.cpp checks the mode itself)
file(READ "${WORK}/eager_straight/summary.json" summary)
string(JSON trained_loss GET "${summary}" test loss)
run_tide(0 eval "${WORK}/eager_straight")
string(JSON eval_loss GET "${out}" loss)
if(NOT eval_loss STREQUAL trained_loss)
  message(FATAL_ERROR "tide eval of an --eager run: test loss ${eval_loss}, the run's summary says ${trained_loss}")
endif()

# --resume restores only what flags set: --epochs / --seed given at the start are remembered, but
# an epochs or seed edited in the config file is refused like any other change (it used to be
# replaced silently by the run's old value)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/flags" --quiet --epochs 2 --seed 4 --max-steps 2)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/flags" --quiet --resume --max-steps 1)
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/file_keys" --quiet --max-steps 2)
foreach(key epochs seed)
  expect_resume_refused(file_keys "\"${key}\": 3" "\"${key}\": 5" "the config differs[^\n]*key '${key}' is 3 there, 5 now")
endforeach()

# eval, predict and export refuse a run whose config.json was edited after training (another seed
# splits the data differently: they used to score the wrong examples silently)
file(COPY "${WORK}/straight/" DESTINATION "${WORK}/edited_run")
file(READ "${WORK}/edited_run/config.json" recorded)
string(JSON recorded SET "${recorded}" seed 9)
file(WRITE "${WORK}/edited_run/config.json" "${recorded}")
foreach(command "eval" "predict;--out;${WORK}/p.csv" "export;--out;${WORK}/e.safetensors")
  list(GET command 0 name)
  list(REMOVE_AT command 0)
  run_tide(1 ${name} "${WORK}/edited_run" ${command})
  if(NOT err MATCHES "config.json: differs from the config the run was trained with[^\n]*key 'seed' is 3 there, 9 now")
    message(FATAL_ERROR "tide ${name} on a run with an edited config.json: unexpected message ${err}")
  endif()
endforeach()
# kept without its checkpoint, the run's best.tide records the config
file(REMOVE "${WORK}/edited_run/checkpoint.tide")
run_tide(1 eval "${WORK}/edited_run")
if(NOT err MATCHES "recorded in [^\n]*best.tide[^\n]*key 'seed' is 3 there, 9 now")
  message(FATAL_ERROR "tide eval on an edited run without its checkpoint: unexpected message ${err}")
endif()

# a config.json or a metrics.jsonl record nested 10^6 deep is refused naming the file (predict,
# export and --resume overflowed the stack copying it)
string(REPEAT "[" 1000000 open)
string(REPEAT "]" 1000000 close)
file(COPY "${WORK}/straight/" DESTINATION "${WORK}/deep_config")
file(WRITE "${WORK}/deep_config/config.json" "{\"data\": ${open}${close}}")
foreach(command "predict;--out;${WORK}/p.csv" "export;--out;${WORK}/e.safetensors")
  list(GET command 0 name)
  list(REMOVE_AT command 0)
  run_tide(1 ${name} "${WORK}/deep_config" ${command})
  if(NOT err MATCHES "deep_config/config.json: JSON nested deeper than 128 levels")
    message(FATAL_ERROR "tide ${name} on a run whose config.json is nested 10^6 deep: ${err}")
  endif()
endforeach()
run_tide(0 train "${WORK}/tiny.json" --out "${WORK}/deep_metrics" --quiet --max-steps 7)
file(READ "${WORK}/deep_metrics/metrics.jsonl" records)
file(WRITE "${WORK}/deep_metrics/metrics.jsonl" "{\"deep\": ${open}${close}}\n${records}")
run_tide(1 train "${WORK}/tiny.json" --out "${WORK}/deep_metrics" --quiet --resume)
if(NOT err MATCHES "deep_metrics/metrics.jsonl:1: JSON nested deeper than 128 levels")
  message(FATAL_ERROR "--resume of a run whose metrics.jsonl holds a record nested 10^6 deep: ${err}")
endif()

# --resume with no checkpoint fails before it creates the run directory
run_tide(1 train "${WORK}/tiny.json" --out "${WORK}/no_such_run" --quiet --resume)
if(NOT err MATCHES "no checkpoint at" OR EXISTS "${WORK}/no_such_run")
  message(FATAL_ERROR "--resume without a checkpoint: left ${WORK}/no_such_run behind, or said ${err}")
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
