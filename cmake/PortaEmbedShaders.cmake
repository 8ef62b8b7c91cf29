# porta_vulkan_shaders(OUT_SOURCE <var> VARIANTS name=source.comp[:DEFINE,DEFINE] ...)
# Compiles each variant with glslc at build time (one SPIR-V per variant) and embeds all of
# them as byte arrays in one generated .cpp, whose table the backend looks up by name.
function(porta_vulkan_shaders)
  cmake_parse_arguments(ARG "" "OUT_SOURCE;KERNEL_DIR;GLSLC" "VARIANTS" ${ARGN})
  set(spv_dir ${CMAKE_CURRENT_BINARY_DIR}/spv)
  file(MAKE_DIRECTORY ${spv_dir})
  file(GLOB includes ${ARG_KERNEL_DIR}/*.glsl ${ARG_KERNEL_DIR}/*.h)
  set(spv_files "")
  set(names "")
  foreach(v ${ARG_VARIANTS})
    string(REGEX MATCH "^([A-Za-z0-9_]+)=([A-Za-z0-9_.]+)(:(.*))?$" ok "${v}")
    if(NOT ok)
      message(FATAL_ERROR "porta_vulkan_shaders: bad variant '${v}'")
    endif()
    set(name ${CMAKE_MATCH_1})
    set(src ${ARG_KERNEL_DIR}/${CMAKE_MATCH_2})
    set(defs "")
    if(CMAKE_MATCH_4)
      string(REPLACE "," ";" dl "${CMAKE_MATCH_4}")
      foreach(d ${dl})
        list(APPEND defs "-D${d}")
      endforeach()
    endif()
    set(spv ${spv_dir}/${name}.spv)
    add_custom_command(OUTPUT ${spv}
      COMMAND ${ARG_GLSLC} --target-env=vulkan1.1 -O -I ${ARG_KERNEL_DIR} ${defs} -o ${spv} ${src}
      DEPENDS ${src} ${includes}
      COMMENT "glslc ${name}" VERBATIM)
    list(APPEND spv_files ${spv})
    list(APPEND names ${name})
  endforeach()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/generated/vulkan_shaders_embedded.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} "-DNAMES=${names}" -DSPV_DIR=${spv_dir} -DOUT=${out}
            -P ${PROJECT_SOURCE_DIR}/cmake/PortaEmbedShadersScript.cmake
    DEPENDS ${spv_files} ${PROJECT_SOURCE_DIR}/cmake/PortaEmbedShadersScript.cmake
    COMMENT "embedding Vulkan shaders" VERBATIM)
  set(${ARG_OUT_SOURCE} ${out} PARENT_SCOPE)
endfunction()
