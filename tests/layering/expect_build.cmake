# SPDX-License-Identifier: MIT
# Builds one target of a configured build tree and judges the result, for ctest:
#   cmake -DBUILD_DIR=<dir> -DTARGET=<target> [-DCONFIG=<config>]
#         (-DEXPECT_MISSING=<header> -DSOURCE=<file name> | -DEXPECT_SUCCESS=ON) -P expect_build.cmake
# EXPECT_MISSING passes only if the build fails *and* the compiler says that SOURCE could not
# find <header>: any other failure (a typo in the probe, a bad flag) proves nothing about layering.
foreach(var BUILD_DIR TARGET)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_build.cmake: -D${var}=... is required")
  endif()
endforeach()
if(DEFINED EXPECT_MISSING AND NOT DEFINED SOURCE)
  message(FATAL_ERROR "expect_build.cmake: EXPECT_MISSING needs -DSOURCE=...")
endif()

set(config_args)
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET} ${config_args}
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)

if(EXPECT_SUCCESS)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${TARGET} should build, but failed (${result}):\n${output}")
  endif()
  message(STATUS "${TARGET} builds, as it should")
  return()
endif()

if(result EQUAL 0)
  message(FATAL_ERROR "${TARGET} built: ${SOURCE} found ${EXPECT_MISSING}, which it must not see\n${output}")
endif()
string(REGEX REPLACE "([][+.*()^$?|\\\\])" "\\\\\\1" header "${EXPECT_MISSING}")
string(REGEX REPLACE "([][+.*()^$?|\\\\])" "\\\\\\1" source "${SOURCE}")
# GCC: "<file>:5:10: fatal error: a/b.hpp: No such file or directory"
# Clang: "<file>:5:10: fatal error: 'a/b.hpp' file not found"
set(gcc "${source}:[0-9]+:[0-9]+: fatal error: ${header}: No such file or directory")
set(clang "${source}:[0-9]+:[0-9]+: fatal error: '${header}' file not found")
if(output MATCHES "[^\n]*(${gcc}|${clang})")
  message(STATUS "${TARGET} fails as it should:\n${CMAKE_MATCH_0}")
else()
  message(FATAL_ERROR "${TARGET} failed, but not because ${SOURCE} cannot find ${EXPECT_MISSING}:\n${output}")
endif()
