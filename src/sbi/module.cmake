# sbi: priors, stimuli, the bayesflow-lif preset and streamed SBI training sets.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/prior.c
  ${CMAKE_CURRENT_LIST_DIR}/stimulus.c
  ${CMAKE_CURRENT_LIST_DIR}/preset.c
  ${CMAKE_CURRENT_LIST_DIR}/dataset.c
  ${CMAKE_CURRENT_LIST_DIR}/device_plan.c)
# The lane loops of the stimulus generator vectorise only without errno/trap semantics.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/stimulus.c PROPERTIES
  COMPILE_OPTIONS "-fno-math-errno;-fno-trapping-math")
# The SBI device path: the stimulus generated in the simulate loop on the device (kernels/sbi_cuda.h).
list(APPEND NF_CUDA_SOURCES ${PROJECT_SOURCE_DIR}/kernels/sbi_cuda.cu)
