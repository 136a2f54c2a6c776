# features: eFEL's electrophysiology features and the simple set, of voltage
# traces; and the spike-train layer shared with fit, sbi and sbc.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/features.c
  ${CMAKE_CURRENT_LIST_DIR}/features_common.c
  ${CMAKE_CURRENT_LIST_DIR}/efel_sub.c
  ${CMAKE_CURRENT_LIST_DIR}/efel_events.c
  ${CMAKE_CURRENT_LIST_DIR}/efel_shape.c
  ${CMAKE_CURRENT_LIST_DIR}/simple.c
  ${CMAKE_CURRENT_LIST_DIR}/spikes.c
  ${CMAKE_CURRENT_LIST_DIR}/stim_window.c)
