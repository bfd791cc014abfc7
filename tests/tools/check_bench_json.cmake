# Runs `tide bench core --json --repeats 1` and checks that stdout is one JSON object with every
# figure the issue names, each a positive number. Invoked by ctest with -DTIDE=<path to tide>.
execute_process(COMMAND "${TIDE}" bench core --json --repeats 1 OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench core --json exited with ${rc}")
endif()
foreach(key op_overhead_ns op_overhead_norecord_ns tanh_256x64_us gemm_256x64x64_us
            gemm_256x64x64_direct_us gemm_1024_gflops gemm_1024_direct_gflops fma_peak_gflops
            gemm_1024_fraction_of_peak)
  string(JSON value ERROR_VARIABLE err GET "${out}" ${key})
  if(err)
    message(FATAL_ERROR "key ${key} missing from the JSON: ${err}")
  endif()
  if(NOT value GREATER 0)
    message(FATAL_ERROR "${key} = ${value} is not a positive number")
  endif()
endforeach()
string(JSON threads GET "${out}" blas threads)
string(JSON core GET "${out}" blas core_type)
message(STATUS "bench JSON ok (BLAS core type ${core}, ${threads} thread(s))")

# a word where only options go is named as such, not as an unknown option
execute_process(COMMAND "${TIDE}" bench core foo ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "tide bench core: unexpected argument 'foo' \\(it takes options only\\)")
  message(FATAL_ERROR "tide bench core foo: exit ${rc}, ${err}")
endif()
