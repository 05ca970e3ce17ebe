# Runs a libFuzzer target over a seed corpus and a regression folder for a bounded time.
#   cmake -DFUZZER=bin -DWORK_DIR=dir -DCORPUS=dir -DREGRESSIONS=dir [-DDICT=file] [-DSECONDS=n] -P run_fuzz.cmake
# SECONDS sets the time budget (default 45 seconds); LOCUS_FUZZ_SECONDS in the environment overrides it.
set(seconds 45)
if(DEFINED SECONDS)
  set(seconds ${SECONDS})
endif()
if(DEFINED ENV{LOCUS_FUZZ_SECONDS})
  set(seconds $ENV{LOCUS_FUZZ_SECONDS})
endif()
if(NOT EXISTS "${FUZZER}")
  message(FATAL_ERROR "fuzzer ${FUZZER} is not built")
endif()

# New inputs go to a scratch folder (the first corpus folder), never into the checked-in seeds.
file(REMOVE_RECURSE "${WORK_DIR}/corpus")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus" "${WORK_DIR}/artifacts")
set(options -max_total_time=${seconds} -rss_limit_mb=2048 -timeout=5 -print_final_stats=1
            -artifact_prefix=${WORK_DIR}/artifacts/)
if(DICT)
  list(APPEND options -dict=${DICT})
endif()
execute_process(
  COMMAND "${FUZZER}" ${options} "${WORK_DIR}/corpus" "${CORPUS}" "${REGRESSIONS}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the fuzzer failed (exit ${result}); the failing input is in ${WORK_DIR}/artifacts/ "
                      "- fix the bug and copy the input to ${REGRESSIONS}/")
endif()
