# Runs `tide bench solvers --json --repeats 1` and checks that stdout is one JSON object with every
# figure of the suite, each a finite positive number, and the BLAS settings it ran under. Invoked by
# ctest with -DTIDE=<path to tide>.
execute_process(COMMAND "${TIDE}" bench solvers --json --repeats 1 OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "tide bench solvers --json exited with ${rc}")
endif()
# (tiny_compiled_nfe: the compiled solve's own evaluations, which its per-NFE figures divide by)
foreach(key tiny_us_per_nfe tiny_nfe tiny_grad_us_per_nfe tiny_f_us tiny_compiled_us_per_nfe tiny_compiled_nfe
            tiny_compiled_grad_us_per_nfe tiny_r2_grad_ms tiny_r2_grad_compiled_ms mid_rk4_step_us mid_grad_over_fwd mid_f_us
            spiral_ms_per_iter spiral_nfe_per_iter adjoint_mem_ratio discrete_mem_ratio)
  string(JSON type ERROR_VARIABLE err TYPE "${out}" ${key})
  if(err)
    message(FATAL_ERROR "key ${key} missing from the JSON: ${err}")
  endif()
  string(JSON value GET "${out}" ${key})
  if(NOT type STREQUAL "NUMBER" OR NOT value GREATER 0)
    message(FATAL_ERROR "${key} = ${value} (${type}) is not a finite positive number")
  endif()
endforeach()
string(JSON met GET "${out}" targets adjoint_mem_ratio met)
string(JSON threads GET "${out}" blas threads)
string(JSON core GET "${out}" blas core_type)
message(STATUS "bench solvers JSON ok (adjoint memory target met: ${met}; BLAS core type ${core}, ${threads} thread(s))")
