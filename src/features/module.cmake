# features: eFEL-compatible and simple electrophysiology features of voltage
# traces, and the spike-train layer shared with fit, sbi and sbc.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/features.c
  ${CMAKE_CURRENT_LIST_DIR}/features_common.c
  ${CMAKE_CURRENT_LIST_DIR}/efel.c
  ${CMAKE_CURRENT_LIST_DIR}/simple.c
  ${CMAKE_CURRENT_LIST_DIR}/spikes.c)
