# Inference speed (issue 4): forward pass and end-to-end classify; peer: bench/peer_inference.py.
add_executable(bench_inference ${CMAKE_CURRENT_SOURCE_DIR}/bench_inference.cpp)
target_link_libraries(bench_inference PRIVATE malarialens_models)
target_compile_definitions(bench_inference PRIVATE MALARIALENS_SHARED_DATA="${MALARIALENS_SHARED_DATA}")
