# Training throughput (issue 5); peer: bench/peer_train.py (Debian's python3-torch).
add_executable(bench_train ${CMAKE_CURRENT_SOURCE_DIR}/bench_train.cpp)
target_link_libraries(bench_train PRIVATE malarialens_models)
target_compile_definitions(bench_train PRIVATE MALARIALENS_SHARED_DATA="${MALARIALENS_SHARED_DATA}")
