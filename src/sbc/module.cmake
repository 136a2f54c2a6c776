# sbc: regression-adjusted ABC posterior, lif6 summaries, SBC analysis, JSON + SVG.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/abc.c
  ${CMAKE_CURRENT_LIST_DIR}/lif_posterior.c
  ${CMAKE_CURRENT_LIST_DIR}/lif_problem.c
  ${CMAKE_CURRENT_LIST_DIR}/lif_summaries.c
  ${CMAKE_CURRENT_LIST_DIR}/sbc.c
  ${CMAKE_CURRENT_LIST_DIR}/sbc_out.c)
