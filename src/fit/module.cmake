# fit: scores (normalised RMSE, coincidence factor, feature error, combined).
list(APPEND NF_SOURCES ${CMAKE_CURRENT_LIST_DIR}/score.c)
