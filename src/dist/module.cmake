# dist: the MPI layer (nf_dist_*: mpirun -np N neurofit fit | sbi simulate | sbi sbc), above the fit
# and SBI drivers. Without MPI (NF_HAVE_MPI off) dist.c compiles the functions that say so.
list(APPEND NF_SOURCES ${CMAKE_CURRENT_LIST_DIR}/dist.c ${CMAKE_CURRENT_LIST_DIR}/dist_fit.c
  ${CMAKE_CURRENT_LIST_DIR}/dist_sbi.c)
if(NF_HAVE_MPI)
  list(APPEND NF_LINK_LIBS MPI::MPI_C)
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/dist.c ${CMAKE_CURRENT_LIST_DIR}/dist_fit.c
    ${CMAKE_CURRENT_LIST_DIR}/dist_sbi.c PROPERTIES COMPILE_DEFINITIONS NF_HAVE_MPI=1)
endif()
