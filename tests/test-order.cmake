# SPDX-License-Identifier: MIT
# Read by ctest after the discovered GoogleTest cases (TEST_INCLUDE_FILES). `ctest -j` starts
# tests in order of COST, highest first; on a fresh build directory it has no timings of its own
# yet and would start these last, leaving one core to run them alone at the end (the sanitizer
# suite's fidelity command alone is about two minutes there). The figures are seconds measured
# under the sanitizers; only their order matters (ctest ignores a name it does not know, so a
# renamed test only loses its place).
foreach(entry IN ITEMS
        "fidelity.Fidelity.TheCommandPassesOnTheProjectsGroundTruth=128"
        "guest.HostMemory.XenMetadataOfA64GiBGuestFollowsThePagesInUse=39"
        "rules.IommuSuperpageRules.AGigabyteOfMergedBlocksMergesIntoOne1GiBSuperpage=25"
        "scenarios.Builtin/EveryScenario.RunsUnderEveryPolicy/fork_heap64=21"
        "scenarios.Builtin/EveryScenario.RunsUnderEveryPolicy/pibooster_shell8=20"
        "scenarios.Stable/UnderDmaAttack.FindsNothingInXensDesignOrPiBoostersFixedOne/pibooster_shell8=19"
        "scenarios.PiBoosterPressure.FitsAsManyProcessesAsBaseline=17"
        "scenarios.Builtin/EveryScenario.RunsUnderEveryPolicy/unixbench_shell8=16"
        "cli.DesignSpaceCli.TabulatesEveryPolicyAgainstBaselineAndWritesTheFile=12")
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 name)
  list(GET pair 1 cost)
  set_tests_properties("${name}" PROPERTIES COST ${cost})
endforeach()
