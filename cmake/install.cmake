# Install rules, included by CMakeLists.txt:
#   cmake --install build --prefix P   lib/libneurofit.so.0 (+ .a), include/neurofit/*.h,
#                                      bin/neurofit, lib/cmake/neurofit/ (find_package),
#                                      lib/pkgconfig/neurofit.pc
#   cpack -G DEB (in build/)           the same under /usr as a .deb, dependencies from
#                                      dpkg-shlibdeps
include(CMakePackageConfigHelpers)
set(NF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/neurofit)

install(TARGETS neurofit_shared EXPORT neurofitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS neurofit EXPORT neurofitStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS neurofit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/neurofit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(EXPORT neurofitTargets NAMESPACE neurofit:: DESTINATION ${NF_CMAKE_DIR})
install(EXPORT neurofitStaticTargets NAMESPACE neurofit:: DESTINATION ${NF_CMAKE_DIR})

# ---- CMake package ------------------------------------------------------------
if(NF_HAVE_CUDA)
  set(NF_PKG_HAVE_CUDA TRUE)
else()
  set(NF_PKG_HAVE_CUDA FALSE)
endif()
if(NF_HAVE_MPI)
  set(NF_PKG_HAVE_MPI TRUE)
else()
  set(NF_PKG_HAVE_MPI FALSE)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/neurofitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/neurofitConfig.cmake INSTALL_DESTINATION ${NF_CMAKE_DIR})
# 0.x.y: one ABI per major version, as the SONAME (libneurofit.so.0)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/neurofitConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/neurofitConfig.cmake ${PROJECT_BINARY_DIR}/neurofitConfigVersion.cmake
        DESTINATION ${NF_CMAKE_DIR})

# ---- pkg-config ---------------------------------------------------------------
# prefix relative to the .pc file, so that the install tree can move.
file(RELATIVE_PATH NF_PC_PREFIX_REL /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" NF_PC_PREFIX_REL "${NF_PC_PREFIX_REL}")
# Libs.private: what a static link (pkg-config --static) adds; only read then.
set(NF_PC_LIBS_PRIVATE "")
foreach(lib cjson ${LAPACKE_LDFLAGS} ${HDF5_C_LIBRARIES} ${NF_LIBM} pthread)
  if(lib MATCHES "^-")
    string(APPEND NF_PC_LIBS_PRIVATE " ${lib}")
  elseif(IS_ABSOLUTE "${lib}")
    string(APPEND NF_PC_LIBS_PRIVATE " ${lib}")
  else()
    string(APPEND NF_PC_LIBS_PRIVATE " -l${lib}")
  endif()
endforeach()
if(NF_HAVE_MPI)
  foreach(lib ${MPI_C_LIBRARIES})
    string(APPEND NF_PC_LIBS_PRIVATE " ${lib}")
  endforeach()
endif()
set(NF_PC_CUDA "")
if(NF_HAVE_CUDA)
  set(NF_PC_CUDA " and CUDA")
  string(APPEND NF_PC_LIBS_PRIVATE " ${CUDA_cudart_static_LIBRARY} -ldl -lrt -lstdc++")
endif()
string(STRIP "${NF_PC_LIBS_PRIVATE}" NF_PC_LIBS_PRIVATE)
configure_file(${CMAKE_CURRENT_LIST_DIR}/neurofit.pc.in ${PROJECT_BINARY_DIR}/neurofit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/neurofit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- .deb -------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME neurofit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "fits single-neuron models to current-clamp recordings on CPU cores or a CUDA GPU")
set(CPACK_PACKAGE_DESCRIPTION
    "neurofit: a C17 library (libneurofit.so.0, headers, CMake package, pkg-config file), the neurofit command-line tool and a Python package (ctypes + numpy) that simulate batches of parameterised neurons, fit 17 neuron models to recordings, extract eFEL-compatible features and generate simulation-based-inference training sets.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "neurofit developers <neurofit@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
# the Python package (lib/python3/dist-packages/neurofit) needs them; the library does not
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-numpy")
include(CPack)
