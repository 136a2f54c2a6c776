# core: status codes, allocation helpers, the seeded generator and hash, .npy and JSON
# output helpers, SVG plots.
list(APPEND NF_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/status.c
  ${CMAKE_CURRENT_LIST_DIR}/alloc.c
  ${CMAKE_CURRENT_LIST_DIR}/clock.c
  ${CMAKE_CURRENT_LIST_DIR}/rng.c
  ${CMAKE_CURRENT_LIST_DIR}/select.c
  ${CMAKE_CURRENT_LIST_DIR}/npy.c
  ${CMAKE_CURRENT_LIST_DIR}/fileio.c
  ${CMAKE_CURRENT_LIST_DIR}/strbuf.c
  ${CMAKE_CURRENT_LIST_DIR}/svg.c
  ${CMAKE_CURRENT_LIST_DIR}/version.c)
