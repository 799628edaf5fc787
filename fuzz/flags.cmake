# Compiler flags of the fuzz build (TESSERA_FUZZ=ON; scripts/fuzz.sh).
# Every library is built with libFuzzer's coverage instrumentation,
# AddressSanitizer and UndefinedBehaviorSanitizer; undefined behaviour
# aborts (no recovery), so libFuzzer reports it as a crash.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "TESSERA_FUZZ needs clang (libFuzzer); configure with CMAKE_CXX_COMPILER=clang++-16")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
# libstdc++ 12 offers std::expected only when __cpp_concepts >= 202002L.
# clang 16 implements what <expected> needs (conditionally trivial special
# members) but still announces 201907L, so the fuzz build announces it.
# (clang 14 lacks the feature itself and cannot build Tessera.)
add_compile_options(-U__cpp_concepts -D__cpp_concepts=202002L -Wno-builtin-macro-redefined)
# clang warns about things gcc does not; the g++ build keeps -Werror.
set(TESSERA_WARNINGS -Wall -Wextra -Wno-missing-field-initializers)
set(TESSERA_BENCH OFF CACHE BOOL "" FORCE)
