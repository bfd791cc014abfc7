# Helpers of the `tide train` end-to-end checks (check_train_*.cmake): run the tool expecting an
# exit code, and compare two files.
function(run_tide expect_rc)
  execute_process(COMMAND "${TIDE}" ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL expect_rc)
    message(FATAL_ERROR "tide ${ARGN}: exit ${rc} (expected ${expect_rc})\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

# Fails with `message` unless files a and b are identical (same = TRUE) or differ (same = FALSE).
function(expect_files same a b message)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${a}" "${b}" RESULT_VARIABLE diff)
  if((same AND diff) OR (NOT same AND NOT diff))
    message(FATAL_ERROR "${message}")
  endif()
endfunction()
