# cmake -P script run by the CTest test `install_consumer` (label install):
#  1. cmake --install <PORTA_BUILD_DIR> --prefix <WORK_DIR>/prefix
#  2. configure + build examples/consumer against that prefix only, with
#     find_package(porta) and again with pkg-config
#  3. run both consumers and the installed porta-info with PORTA_DEVICE=cpu
# Inputs (-D): PORTA_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER
#              [CXX_LAUNCHER] [CONFIG] [SANITIZE]
# With SANITIZE=ON (a PORTA_SANITIZE build) the consumer is built with the same
# sanitizers, since an ASan libporta needs the ASan runtime first in the executable.
cmake_minimum_required(VERSION 3.22)

foreach(v PORTA_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "install_test.cmake: -D${v}=... is required")
  endif()
endforeach()

# A clean search environment: only the scratch prefix may provide porta.
foreach(e CMAKE_PREFIX_PATH PKG_CONFIG_PATH LD_LIBRARY_PATH porta_DIR PORTA_PLUGIN_PATH)
  unset(ENV{${e}})
endforeach()
set(ENV{PORTA_DEVICE} cpu)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "[${what}] ${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (exit ${rc})")
  endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run("install" "${CMAKE_COMMAND}" --install "${PORTA_BUILD_DIR}" --prefix "${prefix}" ${config_args})

# What the install must contain.
file(GLOB_RECURSE config_file "${prefix}/*/cmake/porta/portaConfig.cmake")
file(GLOB_RECURSE version_file "${prefix}/*/cmake/porta/portaConfigVersion.cmake")
file(GLOB_RECURSE pc_file "${prefix}/*/pkgconfig/porta.pc")
file(GLOB_RECURSE soname_lib "${prefix}/*/libporta.so.0")
foreach(f config_file version_file pc_file soname_lib)
  if(NOT ${f})
    message(FATAL_ERROR "install test: ${f} missing under ${prefix}")
  endif()
endforeach()
if(NOT EXISTS "${prefix}/include/porta/porta.h" OR NOT EXISTS "${prefix}/bin/porta-info")
  message(FATAL_ERROR "install test: headers or porta-info missing under ${prefix}")
endif()
get_filename_component(pc_dir "${pc_file}" DIRECTORY)

set(common -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(SANITIZE)
  list(APPEND common "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()
if(CXX_LAUNCHER)
  list(APPEND common -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_LAUNCHER})
endif()

# find_package(porta)
set(b1 "${WORK_DIR}/consumer-cmake")
run("configure consumer (find_package)" "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${b1}" ${common}
    "-DCMAKE_PREFIX_PATH=${prefix}")
file(STRINGS "${b1}/CMakeCache.txt" porta_dir_line REGEX "^porta_DIR:")
string(FIND "${porta_dir_line}" "${prefix}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "install test: porta was found outside the scratch prefix: ${porta_dir_line}")
endif()
run("build consumer (find_package)" "${CMAKE_COMMAND}" --build "${b1}")
run("run consumer (find_package)" "${b1}/porta_consumer")

# pkg-config
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
set(b2 "${WORK_DIR}/consumer-pkgconfig")
run("configure consumer (pkg-config)" "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${b2}" ${common}
    -DCONSUMER_USE_PKG_CONFIG=ON)
run("build consumer (pkg-config)" "${CMAKE_COMMAND}" --build "${b2}")
run("run consumer (pkg-config)" "${b2}/porta_consumer")

# The installed tool finds libporta through its RPATH ($ORIGIN/../lib).
run("installed porta-info" "${prefix}/bin/porta-info")
message(STATUS "install test: OK (${prefix})")
