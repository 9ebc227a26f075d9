# Exploratory views (issue 3): mean images over a folder; peer: bench/peer_mean.py.
add_executable(bench_mean ${CMAKE_CURRENT_SOURCE_DIR}/bench_mean.cpp)
target_link_libraries(bench_mean PRIVATE malarialens_core Qt6::Concurrent)
target_compile_definitions(bench_mean PRIVATE MALARIALENS_SHARED_DATA="${MALARIALENS_SHARED_DATA}")
