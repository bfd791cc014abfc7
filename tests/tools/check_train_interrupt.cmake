# Ctrl-C while `tide train` is still loading its data (a 3M-sequence XOR set takes seconds to make)
# stops it at once with exit status 130 and a message saying nothing was written, and no run
# directory appears; during validation and the final scoring it stops with 130 too (below).
# Invoked by ctest with -DTIDE=<tide> -DWORK=<scratch dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/big.json" [=[
{"name": "big", "seed": 1, "data": {"dataset": "xor", "encoding": "event", "train": 3000000, "test": 64},
 "model": {"type": "mmrnn", "hidden": 8}, "epochs": 1, "batch_size": 32}
]=])
execute_process(COMMAND timeout -s INT --preserve-status 0.5 "${TIDE}" train "${WORK}/big.json" --out "${WORK}/run" --quiet
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 130)
  message(FATAL_ERROR "interrupted while loading: exit ${rc} (expected 130)\n${out}\n${err}")
endif()
if(NOT err MATCHES "interrupted while loading the data and building the model; nothing was written")
  message(FATAL_ERROR "interrupted while loading: no message saying so\n${err}")
endif()
if(EXISTS "${WORK}/run")
  message(FATAL_ERROR "interrupted while loading: the run directory was created")
endif()

# Ctrl-C during an epoch's validation stops at that epoch's end (its checkpoint, no step more), and
# SIGTERM during the final scoring stops before summary.json with 130; --resume then scores the
# finished run. Validation and scoring are made slow (40000 sequences one at a time) so that the
# signal, sent once the run has reached them, lands there. interrupt.sh runs tide in the
# background, waits until FILE has at least LINES lines (0: exists), sleeps a little, signals it.
file(WRITE "${WORK}/slow.json" [=[
{"name": "slow", "seed": 1, "data": {"dataset": "xor", "encoding": "event", "train": 80000, "test": 40000, "val_fraction": 0.5,
 "limit_train": 64}, "model": {"type": "mmrnn", "hidden": 8}, "epochs": 2, "batch_size": 32, "eval_batch_size": 1,
 "checkpoint_every": 1}
]=])
file(WRITE "${WORK}/interrupt.sh" [=[
signal=$1; file=$2; lines=$3; shift 3
"$@" & pid=$!
until [ -e "$file" ] && [ "$(wc -l < "$file")" -ge "$lines" ]; do
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
sleep 0.3
kill -$signal $pid
wait $pid
]=])
function(interrupt_when signal file lines)
  execute_process(COMMAND sh "${WORK}/interrupt.sh" ${signal} "${file}" ${lines} "${TIDE}" ${ARGN}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 130)
    message(FATAL_ERROR "SIG${signal} once ${file} had ${lines} lines: exit ${rc} (expected 130)\n${out}\n${err}")
  endif()
  if(EXISTS "${WORK}/slow/summary.json")
    message(FATAL_ERROR "SIG${signal} once ${file} had ${lines} lines: summary.json was written\n${err}")
  endif()
  set(err "${err}" PARENT_SCOPE)
endfunction()
function(expect_records n)
  file(STRINGS "${WORK}/slow/metrics.jsonl" records)
  list(LENGTH records have)
  if(NOT have EQUAL n)
    message(FATAL_ERROR "metrics.jsonl holds ${have} records, expected ${n}")
  endif()
endfunction()

# the first checkpoint comes after step 1 of 2; the signal then finds epoch 1's validation
interrupt_when(INT "${WORK}/slow/checkpoint.tide" 0 train "${WORK}/slow.json" --out "${WORK}/slow" --quiet)
if(NOT err MATCHES "interrupted: checkpoint written to [^\n]* after 2 steps")
  message(FATAL_ERROR "Ctrl-C during validation: expected a stop after the epoch's 2 steps\n${err}")
endif()
# the signal lands in epoch 1's validation (about 1.5 s of it), unless a loaded machine took longer
# than the sleep over step 2 and its checkpoint: then it stops after step 2 all the same, before
# the epoch's record
file(STRINGS "${WORK}/slow/metrics.jsonl" records)
list(LENGTH records have)
if(have GREATER 1)
  message(FATAL_ERROR "metrics.jsonl holds ${have} records after Ctrl-C in epoch 1, expected at most 1")
endif()
# epoch 2's record: the run is in (or just before) the final scoring
interrupt_when(TERM "${WORK}/slow/metrics.jsonl" 2 train "${WORK}/slow.json" --out "${WORK}/slow" --quiet --resume)
expect_records(2)
execute_process(COMMAND "${TIDE}" train "${WORK}/slow.json" --out "${WORK}/slow" --quiet --resume
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT EXISTS "${WORK}/slow/summary.json")
  message(FATAL_ERROR "--resume after SIGTERM in the final scoring: exit ${rc}, expected 0 and summary.json\n${err}")
endif()
string(JSON steps GET "${out}" steps)
if(NOT steps EQUAL 4)
  message(FATAL_ERROR "--resume after SIGTERM in the final scoring: ${steps} steps, expected 4 (2 epochs of 2)")
endif()
expect_records(2)

# Two Ctrl-Cs 10 ms apart, once the run has reached step 2 or epoch 1's validation: the second
# stops at once with its message on the first line (it followed an empty one), and no temporary
# file (<file>.tmp-<pid>) is left in the run directory (one survived --resume and --overwrite).
# (On a loaded machine the first may stop the run after step 2 before the second lands.)
file(WRITE "${WORK}/twice.sh" [=[
file=$1; shift
"$@" & pid=$!
until [ -e "$file" ]; do
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
sleep 0.3
kill -INT $pid; sleep 0.01; kill -INT $pid
wait $pid
]=])
execute_process(COMMAND sh "${WORK}/twice.sh" "${WORK}/twice/checkpoint.tide" "${TIDE}" train "${WORK}/slow.json" --out "${WORK}/twice" --quiet
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 130 OR (err MATCHES "interrupted again" AND NOT err MATCHES "^interrupted again: stopping without a new checkpoint"))
  message(FATAL_ERROR "two Ctrl-Cs: exit ${rc} (expected 130), or the second's message not on the first line:\n${err}")
endif()
file(GLOB left "${WORK}/twice/*.tmp-*")
if(left)
  message(FATAL_ERROR "two Ctrl-Cs left temporary files: ${left}")
endif()
