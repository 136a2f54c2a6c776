# infer: posterior estimators on summary statistics (regression-adjusted ABC) and their solvers.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/abc.c
  ${CMAKE_CURRENT_LIST_DIR}/solve.c)
