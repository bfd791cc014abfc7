# Ctrl-C while `tide train` is still loading its data (a 3M-sequence XOR set takes seconds to make)
# stops it at once with exit status 130 and a message saying nothing was written, and no run
# directory appears. Invoked by ctest with -DTIDE=<tide> -DWORK=<scratch dir>.
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
