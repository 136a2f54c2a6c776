/* libneurofit.so.0 has no code of its own: CMakeLists.txt links the static
 * library's objects into it whole, and cmake/neurofit.map exports only the
 * public nf_ symbols. CMake needs one source per library; this is it. */
