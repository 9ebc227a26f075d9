# Whole field images (issue 7): segmentation speed and accuracy against the IML annotations,
# and the whole pipeline with classification. Peer: bench/peer_segment.py.
add_executable(bench_segment ${CMAKE_CURRENT_SOURCE_DIR}/bench_segment.cpp)
target_link_libraries(bench_segment PRIVATE malarialens_core Qt6::Concurrent)
target_compile_definitions(bench_segment PRIVATE MALARIALENS_SHARED_DATA="${MALARIALENS_SHARED_DATA}")
if(TARGET malarialens_models)
  target_link_libraries(bench_segment PRIVATE malarialens_models)
  target_compile_definitions(bench_segment PRIVATE MALARIALENS_BENCH_MODELS=1)
endif()
