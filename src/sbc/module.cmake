# sbc: SBC analysis (ranks, ECDF bands, JSON + SVG) and the BayesFlow LIF problem (summaries, tables, posterior).
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/lif_posterior.c
  ${CMAKE_CURRENT_LIST_DIR}/lif_problem.c
  ${CMAKE_CURRENT_LIST_DIR}/lif_summaries.c
  ${CMAKE_CURRENT_LIST_DIR}/sbc.c
  ${CMAKE_CURRENT_LIST_DIR}/sbc_out.c)
