# The Python package (python/neurofit: ctypes + numpy over libneurofit.so.0),
# included by CMakeLists.txt:
#   build/python/neurofit/   the package, with _libpath.py naming this build's library:
#                            PYTHONPATH=build/python python3 -c "import neurofit"
#   cmake --install          PREFIX/${NF_PYTHON_INSTALL_DIR}/neurofit, its _libpath.py naming
#                            the installed library relative to itself (the .deb: /usr/lib/python3/
#                            dist-packages, on Debian's python3 path)
#   ctest python             the pytest suite python/tests (needs python3 with numpy and pytest:
#                            Debian's python3-numpy and python3-pytest)
set(NF_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
    "Where cmake --install puts the Python package, relative to the prefix")
if(IS_ABSOLUTE "${NF_PYTHON_INSTALL_DIR}")
  message(FATAL_ERROR "NF_PYTHON_INSTALL_DIR must be relative to the install prefix")
endif()

file(GLOB NF_PY_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/neurofit/*.py)
set(NF_PY_BUILD ${PROJECT_BINARY_DIR}/python/neurofit)
set(NF_PY_OUTPUTS "")
foreach(f ${NF_PY_SOURCES})
  get_filename_component(name ${f} NAME)
  add_custom_command(OUTPUT ${NF_PY_BUILD}/${name}
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${f} ${NF_PY_BUILD}/${name}
    DEPENDS ${f} COMMENT "python/neurofit/${name}" VERBATIM)
  list(APPEND NF_PY_OUTPUTS ${NF_PY_BUILD}/${name})
endforeach()
file(GENERATE OUTPUT ${NF_PY_BUILD}/_libpath.py
     CONTENT "# written by CMake: the library of this build\nLIBRARY = \"$<TARGET_SONAME_FILE:neurofit_shared>\"\n")
add_custom_target(python_package ALL DEPENDS ${NF_PY_OUTPUTS})

install(FILES ${NF_PY_SOURCES} DESTINATION ${NF_PYTHON_INSTALL_DIR}/neurofit)
file(RELATIVE_PATH NF_PY_LIB_REL /p/${NF_PYTHON_INSTALL_DIR}/neurofit
     /p/${CMAKE_INSTALL_LIBDIR}/libneurofit.so.${PROJECT_VERSION_MAJOR})
file(WRITE ${PROJECT_BINARY_DIR}/python-install/_libpath.py
     "# written by CMake: the installed library, relative to this package\nLIBRARY = \"${NF_PY_LIB_REL}\"\n")
install(FILES ${PROJECT_BINARY_DIR}/python-install/_libpath.py DESTINATION ${NF_PYTHON_INSTALL_DIR}/neurofit)

# ---- tests ----------------------------------------------------------------------
if(BUILD_TESTING)
  if(NOT NF_PYTHON)
    if(EXISTS /usr/bin/python3)
      set(NF_PYTHON /usr/bin/python3)
    else()
      find_program(NF_PYTHON python3)
    endif()
  endif()
  set(NF_PYTEST_OK FALSE)
  if(NF_PYTHON)
    execute_process(COMMAND ${NF_PYTHON} -c "import numpy, pytest" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(NF_PYTEST_OK TRUE)
    endif()
  endif()
  set(NF_PY_ENV "PYTHONPATH=${PROJECT_BINARY_DIR}/python" "PYTHONDONTWRITEBYTECODE=1"
      "NEUROFIT_CLI=$<TARGET_FILE:neurofit_cli>" "NEUROFIT_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data"
      "NEUROFIT_INCLUDE=${PROJECT_SOURCE_DIR}/include" "CC=${CMAKE_C_COMPILER}")
  if(NF_SANITIZE)
    # python3 itself is not instrumented: the sanitizer runtimes must be loaded first.
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so OUTPUT_VARIABLE asan
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so OUTPUT_VARIABLE ubsan
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND NF_PY_ENV "LD_PRELOAD=${asan}:${ubsan}" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
         "NEUROFIT_SANITIZED=1")
  endif()
  if(NF_PYTEST_OK)
    add_test(NAME python COMMAND ${NF_PYTHON} -m pytest -q -rs -p no:cacheprovider ${PROJECT_SOURCE_DIR}/python/tests)
    set_tests_properties(python PROPERTIES ENVIRONMENT "${NF_PY_ENV}" TIMEOUT 900)
  else()
    add_test(NAME python COMMAND sh -c "echo 'skipped: needs python3 with numpy and pytest (Debian python3-numpy python3-pytest)'; exit 77")
    set_tests_properties(python PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
