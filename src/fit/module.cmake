# fit: scores (normalised RMSE, coincidence factor, feature error, combined) and the HTML report.
list(APPEND NF_SOURCES ${CMAKE_CURRENT_LIST_DIR}/score.c ${CMAKE_CURRENT_LIST_DIR}/report.c
  ${CMAKE_CURRENT_LIST_DIR}/fit.c ${CMAKE_CURRENT_LIST_DIR}/fit_run.c
  ${CMAKE_CURRENT_LIST_DIR}/fit_write.c ${CMAKE_CURRENT_LIST_DIR}/fit_refine.c
  ${CMAKE_CURRENT_LIST_DIR}/fit_guess.c ${CMAKE_CURRENT_LIST_DIR}/fit_example.c)
