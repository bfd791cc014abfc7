# `tide bench solvers --peers`, `tide bench taylor --peers` and `tide bench models --peers` against a stand-in peer
# (fake_peer.sh, run by /bin/sh under the peer scripts' names): the protocol, the table, the
# ratios, a peer that cannot start, a refused case and a peer that dies are reported, not fatal.
# Its check (1.5) disagrees with tide's, so its targets read "check disagrees", until a run sets
# FAKE_PEER_CHECK to tide's; one sample per side (--repeats 1) has no spread ("-", null).
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
# how it died, and only what it wrote to stderr since the request (not its start-up line)
expect("${out}" "refused: fake spiral_iteration diffrax: the peer exited with status 3; its stderr since the request ends:\n"
       "fake peer: asked for a spiral, exiting\n" "a peer that died")
string(FIND "${out}" "fake peer: started" old_stderr)
if(NOT old_stderr EQUAL -1)
  message(FATAL_ERROR "a dead peer's message quotes stderr written before the request:\n${out}")
endif()
# the header says how many threads tide's BLAS ran (one, unless the environment asks for more)
expect("${out}" "^tide bench solvers --peers: f32, tide's BLAS on [0-9]+ threads?, each peer on one," "the threads in the header")
# issue 14's spiral: 30 points on [0, 1.5], as the file every side reads holds them
expect("${out}" "spiral_iteration, adjoint \\(torchdiffeq ode_demo: MLP 2-50-2 on y\\^3, 30 points on \\[0, 1.5\\]," "the spiral's span")
# tiny_scaling: tide's one-shared-step solve as a row of its own, after the per-sample rows the targets
# read (the fake jax peer died at the spiral, before these: no peer rows)
foreach(B 1 16 256 4096 65536)
  expect("${out}" "\ntiny_solve B=${B} [^\n]*\n[^\n]*\n  tide +[0-9.]+ [^\n]*\n  tide compiled [^\n]*\n  tide shared step +[0-9.]+ +- +[0-9]+\\.0 [^\n]*\n  target: "
         "tiny_scaling B=${B}: tide's shared-step row")
endforeach()
# tide's side, the peer's figures (2 ms, 10 NFE = 200 us per NFE, first result 0.25 s) and a ratio
expect("${out}" "tiny_solve B=64 [^\n]*\n[^\n]*\n  tide +[0-9.]+ +- +20.0" "tide's tiny solve with its NFE")
# ms/call, spread, NFE, us/NFE, first s, check, its difference to tide's check (1.5 vs 13.7), the ratio
expect("${out}" "\n  diffrax vmap +2 +- +10.0 +200 +0.25 +1.5 +9e-01 +[0-9.]+x" "the peer's row")
expect("${out}" "target: tide >= 1.5x faster than diffrax per call: tide [0-9.]+x faster than diffrax[^\n]*, check disagrees\n"
       "a target against the faster diffrax, whose check disagrees")
expect("${out}" "target: tide's time <= 1.1x jax's per call: tide [0-9.]+x faster than jax, check disagrees\n" "a bound on tide's time")
expect("${out}" "of a kind whose check agrees with tide's \\(within 1e-04;" "the f32 check tolerance")
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
# the peer's check (1.5) disagrees, tide's own rows agree; one sample gives no spread
string(JSON own_agrees GET "${out}" workloads 1 sides 0 check_agrees)
string(JSON compiled_agrees GET "${out}" workloads 1 sides 2 check_agrees)
string(JSON peer_agrees GET "${out}" workloads 1 sides 3 check_agrees)
string(JSON spread TYPE "${out}" workloads 1 sides 0 spread)
string(JSON peer_spread TYPE "${out}" workloads 1 sides 3 spread)
string(JSON tolerance GET "${out}" check_tolerance)
if(NOT own_agrees OR NOT compiled_agrees OR peer_agrees OR NOT spread STREQUAL "NULL" OR NOT peer_spread STREQUAL "NULL"
   OR NOT tolerance EQUAL 1e-8)
  message(FATAL_ERROR "check_agrees: tide ${own_agrees}, compiled ${compiled_agrees}, the peer ${peer_agrees}; spreads ${spread}, "
                      "${peer_spread}; tolerance ${tolerance}")
endif()
# tide's check of K = 3's gradient, for a peer that agrees (below)
string(JSON tide_check GET "${out}" workloads 4 sides 0 check)
# the peer answered garbage while timing K = 3's nested jvp: the peer counts as gone (no time for
# its rows from then on), and the bench went on to the end with tide's side
string(JSON nested_ms TYPE "${out}" workloads 2 sides 4 ms_per_call)
string(JSON status GET "${out}" peer_status)
if(NOT nested_ms STREQUAL "NULL" OR NOT status MATCHES "taylor_forward jax nested jvp \\(timing\\): [^\"]*parse")
  message(FATAL_ERROR "garbage while timing: ms ${nested_ms}, status ${status}")
endif()
# K = 3's gradient with the peer's check set to tide's: it agrees, and the target has a verdict
execute_process(COMMAND "${CMAKE_COMMAND}" -E env FAKE_PEER_CHECK=${tide_check} "${TIDE}" bench taylor --peers --json --repeats 1 --kmax 1
                        --size 6,8,5 --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench taylor --peers (an agreeing peer) exited with ${rc}: ${err}\n${out}")
endif()
string(JSON id GET "${out}" workloads 2 id)
string(JSON target_text GET "${out}" workloads 2 targets 0 text)
string(JSON target_agrees GET "${out}" workloads 2 targets 0 check_agrees)
string(JSON peer_agrees GET "${out}" workloads 2 sides 2 check_agrees)
if(NOT id STREQUAL "taylor_rk_grad K=3" OR NOT target_text MATCHES "faster than jax jet re-run, (met|NOT met)$" OR NOT target_agrees
   OR NOT peer_agrees)
  message(FATAL_ERROR "an agreeing peer (check ${tide_check}): ${id}: ${target_text}, target agrees ${target_agrees}, "
                      "side agrees ${peer_agrees}")
endif()

# --no-epoch means nothing to the peers' workloads: said, not silently ignored
execute_process(COMMAND "${TIDE}" bench models --peers --no-epoch --repeats 1 --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench models --peers exited with ${rc}: ${err}\n${out}")
endif()
expect("${err}" "tide bench models: --no-epoch is not used with --peers" "--no-epoch with --peers")
foreach(workload ltc_cell_fwd_bwd ltc_train_step cfc_train_step mmrnn_train_step)
  # tide compiled and eager, the same check on both (same weights), then the peer's rows
  expect("${out}" "\n${workload} [^\n]*\n[^\n]*\n  tide +[0-9.]+ [^\n]*\n  tide eager +[0-9.]+ [^\n]* 0e\\+00 *\n  [a-z]+ +2 "
         "${workload}: tide's rows and the peer's")
endforeach()
expect("${out}" "ncps torch.compile +2 " "the torch.compile variant")
expect("${out}" "target: tide >= 5x faster than ncps per call: tide [0-9.]+x faster than ncps, check disagrees" "the CfC and LTC targets")
expect("${out}" "target: tide >= 3x faster than torch per call: tide [0-9.]+x faster than torch, check disagrees" "the mmRNN target")

# tide's BLAS on two threads against one-thread peers: the header says so and warns
execute_process(COMMAND "${CMAKE_COMMAND}" -E env TIDE_BLAS_THREADS=2 "${TIDE}" bench taylor --peers --repeats 1 --kmax 1 --size 6,8,5
                        --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench taylor --peers (2 BLAS threads) exited with ${rc}: ${err}\n${out}")
endif()
expect("${out}" "^tide bench taylor --peers: f64, tide's BLAS on 2 threads, each peer on one,[^\n]*\nnote: BLAS runs 2 threads;"
       "tide's BLAS threads above one")
# K = 3's gradient target against the peer's own check (1.5): a verdict of neither met nor NOT met
expect("${out}" "target: tide >= 3x faster than jax jet per call: tide [0-9.]+x faster than jax jet [a-z -]+, check disagrees\n"
       "a target against a peer whose check disagrees")
expect("${out}" "whose check agrees with tide's \\(within 1e-08;" "the f64 check tolerance")

# a peer killed by a signal: the message names it
execute_process(COMMAND "${CMAKE_COMMAND}" -E env FAKE_PEER_SIGNAL=KILL "${TIDE}" bench taylor --peers --repeats 1 --kmax 1 --size 6,8,5
                        --python /bin/sh --peers-dir "${WORK}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench taylor --peers (a killed peer) exited with ${rc}: ${err}\n${out}")
endif()
expect("${out}" "refused: fake taylor_forward [^\n]*: the peer was killed by signal 9 \\([^)]+\\) \\(nothing on its stderr since the request\\)"
       "a peer killed by a signal")

# bench/train_step_ab.sh prints JSON-ready numbers (0.69, -0.20; bc wrote .69 and -.20), here with a
# stand-in binary that does nothing, so the figures are near zero
file(WRITE "${WORK}/noop_tide" "#!/bin/sh\nexit 0\n")
file(CHMOD "${WORK}/noop_tide" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
execute_process(COMMAND bash "${SRC}/../../bench/train_step_ab.sh" "${WORK}/noop_tide" "${WORK}/noop_tide" none.json 2 50
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REGEX MATCHALL "[^\n]+" lines "${out}")
list(LENGTH lines n)
if(rc OR NOT n EQUAL 4)
  message(FATAL_ERROR "bench/train_step_ab.sh exited with ${rc}, ${n} lines: ${err}\n${out}")
endif()
foreach(line IN LISTS lines)
  if(NOT line MATCHES ": -?[0-9]+\\.[0-9][0-9] ms per step$")
    message(FATAL_ERROR "bench/train_step_ab.sh: '${line}' has no JSON number")
  endif()
endforeach()
message(STATUS "bench --peers ok")
