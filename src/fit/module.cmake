# fit: nf_fit (fit.c) over one pass (fit_pass.c) over its checkpoints (fit_checkpoint.c) and the
# targets and scores (fit_target.c, score.c); starting guesses, outputs, report, the example.
list(APPEND NF_SOURCES ${CMAKE_CURRENT_LIST_DIR}/score.c ${CMAKE_CURRENT_LIST_DIR}/report.c
  ${CMAKE_CURRENT_LIST_DIR}/fit.c ${CMAKE_CURRENT_LIST_DIR}/fit_pass.c ${CMAKE_CURRENT_LIST_DIR}/fit_checkpoint.c
  ${CMAKE_CURRENT_LIST_DIR}/fit_target.c ${CMAKE_CURRENT_LIST_DIR}/fit_guess.c
  ${CMAKE_CURRENT_LIST_DIR}/fit_write.c ${CMAKE_CURRENT_LIST_DIR}/fit_example.c)
