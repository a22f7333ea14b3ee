# Project-wide compiler settings: C++20, warnings, ccache, and the sanitizer/fuzzing switches that
# the presets turn on.

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

find_program(SIDA_CCACHE ccache)
if(SIDA_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  # These sloppiness settings are what lets ccache cache translation units built with a
  # precompiled header (the torch PCH), which is most of the engine.
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${SIDA_CCACHE})
endif()

set(SIDA_SANITIZE "" CACHE STRING "Sanitizers to build with: '', 'address;undefined' or 'thread'")
set(SIDA_FUZZ OFF CACHE BOOL "Build the libFuzzer targets (needs clang)")

add_library(sida_warnings INTERFACE)
target_compile_options(sida_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)

if(SIDA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SIDA_FUZZ needs clang (libFuzzer); configure with the 'fuzz' preset")
  endif()
  # Coverage feedback for libFuzzer in every object (sida_core and the targets); only the fuzz
  # targets link libFuzzer's main (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(SIDA_SANITIZE)
  list(JOIN SIDA_SANITIZE "," _san)
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${_san})
  if("undefined" IN_LIST SIDA_SANITIZE)
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
