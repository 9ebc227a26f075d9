# Review (issue 8): corrections database and explanation heatmaps.
add_executable(bench_review ${CMAKE_CURRENT_SOURCE_DIR}/bench_review.cpp)
target_link_libraries(bench_review PRIVATE malarialens_models)
target_compile_definitions(bench_review PRIVATE MALARIALENS_SHARED_DATA="${MALARIALENS_SHARED_DATA}")
