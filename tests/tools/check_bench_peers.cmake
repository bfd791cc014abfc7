# `tide bench solvers --peers`, `tide bench taylor --peers` and `tide bench models --peers` against a stand-in peer
# (fake_peer.sh, run by /bin/sh under the peer scripts' names): the protocol, the table, the
# ratios, a peer that cannot start, a refused case and a peer that dies are reported, not fatal.
# Invoked by ctest with -DTIDE=<tide> -DSRC=<tests/tools> -DWORK=<a scratch directory>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
foreach(name solver_peers.py taylor_peers.py model_peers.py)
  configure_file("${SRC}/fake_peer.sh" "${WORK}/${name}" COPYONLY)
endforeach()

function(expect out pattern what)
  string(REGEX MATCH "${pattern}" found "${out}")
  if(NOT found)
    message(FATAL_ERROR "${what}: no match for '${pattern}' in:\n${out}")
  endif()
endfunction()

execute_process(COMMAND "${TIDE}" bench solvers --peers --repeats 1 --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench solvers --peers exited with ${rc}: ${err}\n${out}")
endif()
expect("${out}" "peer not run: /bin/sh [^\n]*solver_peers.py \\(given by --python\\): ModuleNotFoundError: No module named 'torch'" "a peer that cannot start")
expect("${out}" "peer fake: fake 1.0" "the peer's versions")
expect("${out}" "refused: fake tiny_solve_grad diffrax: ValueError: no gradients here" "a refused case")
expect("${out}" "refused: fake spiral_iteration diffrax: the peer exited" "a peer that died")
# tide's side, the peer's figures (2 ms, 10 NFE = 200 us per NFE, first result 0.25 s) and a ratio
expect("${out}" "tiny_solve B=64 [^\n]*\n[^\n]*\n  tide +[0-9.]+ +[0-9]+ +20.0" "tide's tiny solve with its NFE")
# ms/call, spread, NFE, us/NFE, first s, check, its difference to tide's check (1.5 vs 13.7), the ratio
expect("${out}" "\n  diffrax vmap +2 +0 +10.0 +200 +0.25 +1.5 +9e-01 +[0-9.]+x" "the peer's row")
expect("${out}" "target: tide >= 1.5x faster than diffrax per call: tide [0-9.]+x faster than diffrax" "a target against the faster diffrax")
expect("${out}" "target: tide's time <= 1.1x jax's per call: tide [0-9.]+x faster than jax" "a bound on tide's time")
expect("${out}" "spiral_iteration, adjoint[^\n]*\n[^\n]*\n  tide [^\n]*\n  tide compiled [^\n]*\n  target: tide >= 100x faster than torchdiffeq per NFE: no peer figure"
       "a workload with no peer left")

execute_process(COMMAND "${TIDE}" bench taylor --peers --json --repeats 1 --kmax 3 --size 6,8,5 --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench taylor --peers exited with ${rc}: ${err}\n${out}")
endif()
string(JSON n LENGTH "${out}" workloads)
if(NOT n EQUAL 5)  # K = 1, 2, 3 forward and the gradient at K = 2, 3
  message(FATAL_ERROR "expected 5 workloads, got ${n}:\n${out}")
endif()
# sides: tide taylor, tide nested jvp, tide compiled (the same value as eager), then the peer's
string(JSON label GET "${out}" workloads 1 sides 3 label)
string(JSON ratio GET "${out}" workloads 1 sides 3 peer_over_tide)
if(NOT label STREQUAL "jax jet re-run" OR NOT ratio GREATER 0)
  message(FATAL_ERROR "the K = 2 peer row: ${label} ${ratio}")
endif()
string(JSON label GET "${out}" workloads 1 sides 2 label)
string(JSON compiled_diff GET "${out}" workloads 1 sides 2 check_relative_difference)
if(NOT label STREQUAL "tide compiled" OR NOT compiled_diff LESS 1e-12)
  message(FATAL_ERROR "the K = 2 compiled row: ${label}, check difference ${compiled_diff}")
endif()
# a short id beside the description, and each row's check against tide's (none for tide's own row)
string(JSON id GET "${out}" workloads 1 id)
string(JSON own_diff TYPE "${out}" workloads 1 sides 0 check_relative_difference)
string(JSON peer_diff GET "${out}" workloads 1 sides 3 check_relative_difference)
if(NOT id MATCHES "^taylor_forward[^(]*[^ (]$" OR NOT own_diff STREQUAL "NULL" OR NOT peer_diff GREATER_EQUAL 0)
  message(FATAL_ERROR "id '${id}', tide's own check difference ${own_diff}, the peer's ${peer_diff}")
endif()
# the peer answered garbage while timing K = 3's nested jvp: the peer counts as gone (no time for
# its rows from then on), and the bench went on to the end with tide's side
string(JSON nested_ms TYPE "${out}" workloads 2 sides 4 ms_per_call)
string(JSON status GET "${out}" peer_status)
if(NOT nested_ms STREQUAL "NULL" OR NOT status MATCHES "taylor_forward jax nested jvp \\(timing\\): [^\"]*parse")
  message(FATAL_ERROR "garbage while timing: ms ${nested_ms}, status ${status}")
endif()
execute_process(COMMAND "${TIDE}" bench models --peers --repeats 1 --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench models --peers exited with ${rc}: ${err}\n${out}")
endif()
foreach(workload ltc_cell_fwd_bwd ltc_train_step cfc_train_step mmrnn_train_step)
  # tide compiled and eager, the same check on both (same weights), then the peer's rows
  expect("${out}" "\n${workload} [^\n]*\n[^\n]*\n  tide +[0-9.]+ [^\n]*\n  tide eager +[0-9.]+ [^\n]* 0e\\+00 *\n  [a-z]+ +2 "
         "${workload}: tide's rows and the peer's")
endforeach()
expect("${out}" "ncps torch.compile +2 " "the torch.compile variant")
expect("${out}" "target: tide >= 5x faster than ncps per call: tide [0-9.]+x faster than ncps" "the CfC and LTC targets")
expect("${out}" "target: tide >= 3x faster than torch per call: tide [0-9.]+x faster than torch" "the mmRNN target")
message(STATUS "bench --peers ok")
