# Runs a small `tide bench taylor --json` and checks the study's keys: K, taylor_over_f,
# rerun_over_f, nested_over_f and max_rel_diff, arrays indexed like K with positive ratios and the
# three forms agreeing to 1e-10. Invoked by ctest with -DTIDE=<path to tide>.
execute_process(COMMAND "${TIDE}" bench taylor --json --repeats 1 --kmax 3 --size 6,8,5
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench taylor --json exited with ${rc}")
endif()
string(JSON n LENGTH "${out}" K)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "K should list 3 orders, has ${n}")
endif()
foreach(key taylor_over_f rerun_over_f nested_over_f max_rel_diff)
  string(JSON len ERROR_VARIABLE err LENGTH "${out}" ${key})
  if(err OR NOT len EQUAL 3)
    message(FATAL_ERROR "key ${key} missing or not indexed like K: ${err}")
  endif()
  foreach(i RANGE 2)
    string(JSON v GET "${out}" ${key} ${i})
    if(key STREQUAL "max_rel_diff")
      if(v GREATER 1e-10)
        message(FATAL_ERROR "the three forms disagree at K index ${i}: ${v}")
      endif()
    elseif(NOT v GREATER 0)
      message(FATAL_ERROR "${key}[${i}] = ${v} is not a positive number")
    endif()
  endforeach()
endforeach()
message(STATUS "bench taylor JSON ok")

# --svg in a missing directory fails before measuring (nothing on stdout); a plot that cannot be
# written (its path is a directory) fails after the figures are printed, not instead of them
execute_process(COMMAND "${TIDE}" bench taylor --json --repeats 1 --kmax 1 --size 2,4,4 --svg no_such_dir/plot.svg
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc EQUAL 0 OR NOT out STREQUAL "" OR NOT err MATCHES "no_such_dir/plot.svg: the directory 'no_such_dir' does not exist")
  message(FATAL_ERROR "--svg in a missing directory: exit ${rc}, stdout '${out}', stderr '${err}'")
endif()
# a directory is refused before measuring too
set(plot_dir "${CMAKE_CURRENT_BINARY_DIR}/bench_taylor_svg_is_a_directory")
file(REMOVE_RECURSE "${plot_dir}")
file(MAKE_DIRECTORY "${plot_dir}")
execute_process(COMMAND "${TIDE}" bench taylor --json --repeats 1 --kmax 1 --size 2,4,4 --svg "${plot_dir}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc EQUAL 0 OR NOT out STREQUAL "" OR NOT err MATCHES "bench_taylor_svg_is_a_directory: is a directory")
  message(FATAL_ERROR "--svg naming a directory: exit ${rc}, stdout '${out}', stderr '${err}'")
endif()
file(REMOVE_RECURSE "${plot_dir}")
# a name the file system refuses (longer than a name may be: the check before measuring passes, the
# write fails) fails after the figures are printed, not instead of them
string(REPEAT "x" 300 long_name)
foreach(format json text)
  set(flags --repeats 1 --kmax 1 --size 2,4,4 --svg "${CMAKE_CURRENT_BINARY_DIR}/${long_name}.svg")
  if(format STREQUAL "json")
    list(APPEND flags --json)
  endif()
  execute_process(COMMAND "${TIDE}" bench taylor ${flags} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(rc EQUAL 0 OR NOT out MATCHES "taylor_over_f|taylor / f" OR NOT err MATCHES "cannot write the plot")
    message(FATAL_ERROR "--svg that cannot be written (${format}): exit ${rc}, stdout '${out}', stderr '${err}'")
  endif()
endforeach()
message(STATUS "bench taylor --svg errors ok")
