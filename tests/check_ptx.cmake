# ctest cuda_ptx_ieee: the CUDA kernels compute the CPU backend's IEEE float
# operations (CMakeLists.txt, NF_CUDA_MATH_FLAGS). In the PTX of every kernel:
#  - no approximate instruction (.approx: fast-math division, reciprocal,
#    square root, exp2, log2, sin, cos), no div.full;
#  - no fused float multiply-add the source did not ask for (integer mad.lo
#    is exact and allowed): the CPU build does not
#    contract (-ffp-contract=off), so neither may nvcc nor ptxas: every f32/f64
#    add, sub and mul carries the .rn rounding modifier, which ptxas may not
#    fuse into an fma; no mad, no f64 fma. The one fused instruction allowed
#    is fma.rn.ftz.f32, which nvcc (-fmad=false) emits only for an fmaf() in
#    the source: IEEE 754's fused multiply-add, which the CPU build computes
#    with its FMA instruction (kernels/nf_math.h), the same float;
#  - every f32 add, sub, mul, div and sqrt flushes denormals (.ftz), as the CPU
#    workers do (FTZ | DAZ).
# Prints the count of each float instruction kind.
#   cmake -DPTX=<file.ptx> -P check_ptx.cmake
cmake_minimum_required(VERSION 3.24)
file(STRINGS ${PTX} lines REGEX "^[ \t]+(@%p[0-9]+ )?[a-z]")
set(bad "")
set(kinds "")
foreach(l ${lines})
  string(STRIP "${l}" l)
  string(REGEX REPLACE "^@%p[0-9]+ " "" l "${l}")
  string(REGEX MATCH "^[a-z0-9_.]+" op "${l}")
  if(op MATCHES "\\.(f32|f64)$" OR op MATCHES "\\.approx")
    list(APPEND kinds ${op})
  endif()
  if(op MATCHES "\\.approx" OR op MATCHES "^div\\.full")
    list(APPEND bad "approximate: ${l}")
  elseif(op MATCHES "^(fma|mad)\\..*f(32|64)$" AND NOT op STREQUAL "fma.rn.ftz.f32")
    list(APPEND bad "fused multiply-add: ${l}")
  elseif(op MATCHES "^(add|sub|mul)(\\.ftz)?(\\.sat)?\\.(f32|f64)$")
    list(APPEND bad "no rounding modifier (ptxas may fuse it): ${l}")
  elseif(op MATCHES "^(add|sub|mul|div|sqrt)\\.rn\\.f32$")
    list(APPEND bad "denormals not flushed: ${l}")
  endif()
endforeach()
list(LENGTH lines n_lines)
list(SORT kinds)
set(summary "")
set(prev "")
set(count 0)
foreach(k ${kinds} "")
  if(NOT k STREQUAL prev)
    if(count GREATER 0)
      string(APPEND summary "  ${prev}: ${count}\n")
    endif()
    set(prev "${k}")
    set(count 0)
  endif()
  math(EXPR count "${count} + 1")
endforeach()
message("PTX ${PTX}: ${n_lines} instructions; float instructions by kind:\n${summary}")
list(LENGTH bad n_bad)
if(n_bad GREATER 0)
  list(SUBLIST bad 0 10 first)
  string(REPLACE ";" "\n  " first "${first}")
  message(FATAL_ERROR "${n_bad} instructions differ from the CPU build's IEEE arithmetic, e.g.\n  ${first}")
endif()
message("cuda_ptx_ieee: no approximate, fused or unflushed float instruction")
