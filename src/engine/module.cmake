# engine: model registry, batch validation, CPU thread-pool backend, CUDA backend.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/registry.c
  ${CMAKE_CURRENT_LIST_DIR}/engine.c
  ${CMAKE_CURRENT_LIST_DIR}/pool.c
  ${CMAKE_CURRENT_LIST_DIR}/cpu.c
  ${CMAKE_CURRENT_LIST_DIR}/cpu_narrow.c
  ${CMAKE_CURRENT_LIST_DIR}/bench.c)
list(APPEND NF_CUDA_SOURCES ${PROJECT_SOURCE_DIR}/kernels/engine_cuda.cu)
# The lane loops of the simulate body vectorise only without errno/trap semantics.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cpu.c ${CMAKE_CURRENT_LIST_DIR}/cpu_narrow.c PROPERTIES
  COMPILE_OPTIONS "-fno-math-errno;-fno-trapping-math")
