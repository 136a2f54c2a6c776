# recording: current-clamp recordings from ABF1/ABF2, NWB (HDF5), IBW, text and .npy.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/recording.c
  ${CMAKE_CURRENT_LIST_DIR}/abf.c
  ${CMAKE_CURRENT_LIST_DIR}/ibw.c
  ${CMAKE_CURRENT_LIST_DIR}/text.c
  ${CMAKE_CURRENT_LIST_DIR}/npy_rec.c
  ${CMAKE_CURRENT_LIST_DIR}/nwb.c
  ${CMAKE_CURRENT_LIST_DIR}/isolate.c
  ${CMAKE_CURRENT_LIST_DIR}/columns.c
  ${CMAKE_CURRENT_LIST_DIR}/export.c
  ${CMAKE_CURRENT_LIST_DIR}/recording_common.c)
