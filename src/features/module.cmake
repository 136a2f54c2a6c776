# features: eFEL-compatible and simple electrophysiology features of voltage traces.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/features.c
  ${CMAKE_CURRENT_LIST_DIR}/efel.c
  ${CMAKE_CURRENT_LIST_DIR}/simple.c)
