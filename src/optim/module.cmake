# optim: ask/tell population optimisers (CMA-ES with IPOP/BIPOP, DE, SHADE).
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/optim.c
  ${CMAKE_CURRENT_LIST_DIR}/cmaes.c
  ${CMAKE_CURRENT_LIST_DIR}/de.c
  ${CMAKE_CURRENT_LIST_DIR}/optim_common.c)
