# Script-mode helper shared by the CTest driver scripts (expect_command.cmake,
# determinism.cmake): sets each NAME=VALUE of a '|'-separated list in the environment of the
# commands they run (CTest's ENVIRONMENT property would split values at ';').
function(porta_apply_env_vars list)
  string(REPLACE "|" ";" env_list "${list}")
  foreach(kv ${env_list})
    string(FIND "${kv}" "=" eq)
    string(SUBSTRING "${kv}" 0 ${eq} name)
    math(EXPR vstart "${eq} + 1")
    string(SUBSTRING "${kv}" ${vstart} -1 value)
    set(ENV{${name}} "${value}")
  endforeach()
endfunction()
