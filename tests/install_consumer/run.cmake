# Installs the build tree into a scratch prefix, then configures, builds and runs the consumer
# project against it, and checks how it meets the CUDA plugin. Invoked by ctest with
# -DBUILD_DIR -DSOURCE_DIR -DWORK_DIR -DHAVE_CUDA -DCUDA_PLUGIN_LIBDIR -DCHECKS (tests/CMakeLists.txt).
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "install failed (${rc})")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G Ninja
                        "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer against the installed package failed (${rc})")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer ran but failed (${rc})")
endif()

# A consumer that never touches CUDA maps no CUDA library (the CUDA backend is a plugin).
include("${CHECKS}")
check_no_cuda_libs("${WORK_DIR}/build/consumer")

# Asking for the GPU: with the plugin missing, the error names the path tried and the fix; with the
# installed plugin, the consumer's tide symbols bind (the device may still be absent: no GPU here).
function(ask_cuda plugin out)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "TIDE_CUDA_PLUGIN=${plugin}" "${WORK_DIR}/build/consumer" --ask-cuda
                  OUTPUT_VARIABLE said RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "the consumer asking for CUDA failed (${rc}): ${said}")
  endif()
  message(STATUS "TIDE_CUDA_PLUGIN=${plugin}: ${said}")
  set(${out} "${said}" PARENT_SCOPE)
endfunction()
if(HAVE_CUDA)
  ask_cuda("${WORK_DIR}/missing/libtide_cuda.so" said)
  if(NOT said MATCHES "plugin could not be loaded: tried [^ ]*/missing/libtide_cuda.so \\([^)]*cannot open shared object file" OR NOT said MATCHES "set TIDE_CUDA_PLUGIN")
    message(FATAL_ERROR "a missing plugin gave an unclear error: ${said}")
  endif()
  set(installed "${WORK_DIR}/prefix/${CUDA_PLUGIN_LIBDIR}/libtide_cuda.so")
  if(NOT EXISTS "${installed}")
    message(FATAL_ERROR "the CUDA plugin was not installed at ${installed}")
  endif()
  ask_cuda("${installed}" said)
  if(said MATCHES "undefined symbol|not a CUDA plugin")
    message(FATAL_ERROR "the installed plugin does not fit the consumer: ${said}")
  endif()
else()
  ask_cuda("${WORK_DIR}/missing/libtide_cuda.so" said)
  if(NOT said MATCHES "no CUDA backend")
    message(FATAL_ERROR "a build without CUDA gave an unclear error: ${said}")
  endif()
endif()
