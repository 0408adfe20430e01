# Helpers shared by every module: one static library per src/<module>/, one GoogleTest binary
# from its *_test.cc files, and one libFuzzer binary per *_fuzz.cc file.

function(pydepot_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Woverloaded-virtual -Wimplicit-fallthrough -Wcast-qual -Wformat=2)
  # GCC 12 reports false -Wrestrict positives on std::string concatenation at -O2 and above
  # (GCC bug 105329); the warning stays on for every other compiler.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  # GCC's -fsanitize=thread warns (-Wtsan) that it cannot instrument std::atomic_thread_fence,
  # which Boost.Asio's scheduler uses (src/http/server.cc). ThreadSanitizer then sees no
  # synchronization through those fences; the TSan suite runs the unit tests, where no Asio
  # code runs, so the warning is not an error there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND PYDEPOT_SANITIZE MATCHES "thread")
    target_compile_options(${target} PRIVATE -Wno-tsan)
  endif()
  if(PYDEPOT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# pydepot_add_module(<name> [DEPS <targets>...] [PUBLIC_DEPS <targets>...]
#                    [TEST_DEPS <targets>...] [FUZZ_DEPS <targets>...])
# Builds pydepot_<name> (alias pydepot::<name>) from the module's .cc files. FUZZ_DEPS replaces
# the module library for its fuzz targets, for modules whose fuzzers need only a part of it.
function(pydepot_add_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;PUBLIC_DEPS;TEST_DEPS;FUZZ_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "(_(test|fuzz|bench)|/main)\\.cc$")
  add_library(pydepot_${name} STATIC ${srcs})
  add_library(pydepot::${name} ALIAS pydepot_${name})
  target_include_directories(pydepot_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(pydepot_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  pydepot_set_warnings(pydepot_${name})

  if(PYDEPOT_BUILD_TESTS)
    file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
    if(tests)
      add_executable(${name}_test ${tests})
      target_link_libraries(${name}_test PRIVATE pydepot_${name} ${ARG_DEPS} ${ARG_PUBLIC_DEPS}
                            ${ARG_TEST_DEPS} GTest::gmock GTest::gtest_main)
      target_compile_definitions(${name}_test PRIVATE
                                 PYDEPOT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
      pydepot_set_warnings(${name}_test)
      # PRE_TEST: tests are listed when ctest runs, so cases that exist only when a test server
      # is configured (PYDEPOT_TEST_S3_URL, ...) are discovered in that environment.
      gtest_discover_tests(${name}_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                           DISCOVERY_TIMEOUT 60 DISCOVERY_MODE PRE_TEST)
    endif()
  endif()

  if(PYDEPOT_FUZZ)
    file(GLOB fuzzers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_fuzz.cc)
    foreach(fuzzer ${fuzzers})
      get_filename_component(fuzz_name ${fuzzer} NAME_WE)
      add_executable(${fuzz_name} ${fuzzer})
      if(ARG_FUZZ_DEPS)
        target_link_libraries(${fuzz_name} PRIVATE ${ARG_FUZZ_DEPS})
      else()
        target_link_libraries(${fuzz_name} PRIVATE pydepot_${name} ${ARG_DEPS} ${ARG_PUBLIC_DEPS})
      endif()
      target_link_options(${fuzz_name} PRIVATE -fsanitize=fuzzer)
      pydepot_set_warnings(${fuzz_name})
    endforeach()
  endif()
endfunction()
