# engine: model registry, batch validation, CPU thread-pool backend, CUDA backend.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/registry.c
  ${CMAKE_CURRENT_LIST_DIR}/engine.c
  ${CMAKE_CURRENT_LIST_DIR}/pool.c
  ${CMAKE_CURRENT_LIST_DIR}/cpu.c
  ${CMAKE_CURRENT_LIST_DIR}/cpu_narrow.c
  ${CMAKE_CURRENT_LIST_DIR}/plan.c
  ${CMAKE_CURRENT_LIST_DIR}/variant.c)
list(APPEND NF_CUDA_SOURCES ${PROJECT_SOURCE_DIR}/kernels/engine_cuda.cu)
# How C code that runs the simulate body is compiled (the CPU backend and the
# host replay, tests/test_engine_plan.c): the lane loops vectorise only
# without errno/trap semantics; no contraction into fused multiply-adds, the
# same IEEE operations as the CUDA build (NF_CUDA_MATH_FLAGS, -fmad=false).
set(NF_KERNEL_C_OPTIONS -fno-math-errno -fno-trapping-math -ffp-contract=off)
# The CPU blocks also without gcc's unroll-and-jam: it ran the loop nest of
# spike counts under one waveform two steps per visit of each lane vector,
# with the state loaded and stored on every visit; without it the lane loop
# unrolls completely and the state stays in registers (izhikevich 0.70x ->
# 0.87x the plain loop in CPU time; bench/RESULTS.md). Values are unchanged.
set(NF_CPU_BLOCK_OPTIONS ${NF_KERNEL_C_OPTIONS})
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND NF_CPU_BLOCK_OPTIONS -fno-loop-unroll-and-jam)
endif()
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cpu.c ${CMAKE_CURRENT_LIST_DIR}/cpu_narrow.c PROPERTIES
  COMPILE_OPTIONS "${NF_CPU_BLOCK_OPTIONS}")
