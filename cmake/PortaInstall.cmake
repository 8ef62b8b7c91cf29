# Install and export rules: libporta (shared, SONAME), public headers, the
# porta::porta imported target (lib/cmake/porta), porta.pc, the tools, and
# backend modules (lib/porta).
#
# Backends built as modules call porta_install_backend_module(<target>) from their
# CMakeLists. This file may be included anywhere in the top-level CMakeLists: the
# rules that need every target are deferred to the end of the top-level directory.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PORTA_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/porta" CACHE STRING
    "Where portaConfig.cmake is installed (relative to the prefix)")
set(PORTA_INSTALL_MODULEDIR "${CMAKE_INSTALL_LIBDIR}/porta")

# RPATH of an installed file in <dir> that must find libporta in CMAKE_INSTALL_LIBDIR.
function(_porta_rpath_from dir out)
  file(RELATIVE_PATH rel "${CMAKE_INSTALL_PREFIX}/${dir}" "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
  string(REGEX REPLACE "/$" "" rel "${rel}")
  if(rel STREQUAL "")
    set(${out} "$ORIGIN" PARENT_SCOPE)
  else()
    set(${out} "$ORIGIN/${rel}" PARENT_SCOPE)
  endif()
endfunction()

# porta_install_backend_module(<target>)
# Installs a backend module (add_library(<target> MODULE ...), output name
# libporta_backend_<name>.so) into <libdir>/porta, where libporta looks for it.
# In the build tree the module is placed beside libporta so an uninstalled build
# finds it too (unless the target set LIBRARY_OUTPUT_DIRECTORY itself).
function(porta_install_backend_module target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "porta_install_backend_module: no target '${target}'")
  endif()
  get_target_property(type ${target} TYPE)
  if(NOT type MATCHES "MODULE_LIBRARY|SHARED_LIBRARY")
    message(FATAL_ERROR "porta_install_backend_module: '${target}' is a ${type}, expected a MODULE library")
  endif()
  get_target_property(outdir ${target} LIBRARY_OUTPUT_DIRECTORY)
  if(NOT outdir)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "$<TARGET_FILE_DIR:porta>")
  endif()
  _porta_rpath_from("${PORTA_INSTALL_MODULEDIR}" rpath)
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${rpath}")
  install(TARGETS ${target} LIBRARY DESTINATION "${PORTA_INSTALL_MODULEDIR}" COMPONENT runtime)
  set_property(GLOBAL APPEND PROPERTY PORTA_BACKEND_MODULES ${target})
endfunction()

# Everything below runs once every target exists.
function(_porta_install_all)
  # libporta and the exported target
  target_compile_features(porta INTERFACE cxx_std_17)
  install(TARGETS porta EXPORT portaTargets
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT runtime NAMELINK_COMPONENT dev
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT runtime)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/porta" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
    COMPONENT dev FILES_MATCHING PATTERN "*.h")
  install(EXPORT portaTargets NAMESPACE porta:: FILE portaTargets.cmake
    DESTINATION "${PORTA_INSTALL_CMAKEDIR}" COMPONENT dev)

  get_target_property(porta_type porta TYPE)
  if(porta_type STREQUAL "STATIC_LIBRARY")
    set(PORTA_STATIC_BUILD ON)  # a static libporta needs its private dependencies at link time
  else()
    set(PORTA_STATIC_BUILD OFF)
  endif()
  configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/portaConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/portaConfig.cmake" INSTALL_DESTINATION "${PORTA_INSTALL_CMAKEDIR}")
  write_basic_package_version_file("${PROJECT_BINARY_DIR}/portaConfigVersion.cmake"
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
  install(FILES "${PROJECT_BINARY_DIR}/portaConfig.cmake" "${PROJECT_BINARY_DIR}/portaConfigVersion.cmake"
    DESTINATION "${PORTA_INSTALL_CMAKEDIR}" COMPONENT dev)

  # pkg-config, relocatable: prefix is computed from the .pc file's own location.
  set(pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  file(RELATIVE_PATH pc_to_prefix "${CMAKE_INSTALL_PREFIX}/${pc_dir}" "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
  set(PORTA_PC_PREFIX "\${pcfiledir}/${pc_to_prefix}")
  set(PORTA_PC_LIBS_PRIVATE "-lspdlog -lfmt -pthread")
  foreach(l ${CMAKE_DL_LIBS})
    string(APPEND PORTA_PC_LIBS_PRIVATE " -l${l}")
  endforeach()
  configure_file("${PROJECT_SOURCE_DIR}/cmake/porta.pc.in" "${PROJECT_BINARY_DIR}/porta.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/porta.pc" DESTINATION "${pc_dir}" COMPONENT dev)

  # Tools: installed executables find libporta through $ORIGIN/../lib.
  _porta_rpath_from("${CMAKE_INSTALL_BINDIR}" bin_rpath)
  foreach(tool porta-info porta-tune porta-run)
    if(TARGET ${tool})
      set_target_properties(${tool} PROPERTIES INSTALL_RPATH "${bin_rpath}")
      install(TARGETS ${tool} RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT tools)
    endif()
  endforeach()
  foreach(exe porta-bench llama_layer)  # installed by their own CMakeLists; only the RPATH here
    if(TARGET ${exe})
      set_target_properties(${exe} PROPERTIES INSTALL_RPATH "${bin_rpath}")
    endif()
  endforeach()

  get_property(modules GLOBAL PROPERTY PORTA_BACKEND_MODULES)
  if(modules)
    message(STATUS "porta: backend modules installed to ${PORTA_INSTALL_MODULEDIR}: ${modules}")
  endif()
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _porta_install_all)
