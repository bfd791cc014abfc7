# Fails when a program maps the CUDA runtime or cuBLAS at start: only the CUDA plugin may link them.
# Invoked with -DPROGRAM=<path>; tests/install_consumer/run.cmake includes it for the consumer.
function(check_no_cuda_libs program)
  execute_process(COMMAND ldd "${program}" OUTPUT_VARIABLE libs RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "ldd ${program} failed (${rc})")
  endif()
  if(libs MATCHES "lib(cudart|cublas|cublasLt|cuda)\\.so")
    message(FATAL_ERROR "${program} links the CUDA runtime (only libtide_cuda.so may):\n${libs}")
  endif()
  message(STATUS "${program}: no CUDA library among its dependencies")
endfunction()

if(PROGRAM)
  check_no_cuda_libs("${PROGRAM}")
endif()
