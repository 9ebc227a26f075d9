add_executable(bench_evaluate bench_evaluate.cpp)
target_link_libraries(bench_evaluate PRIVATE malarialens_ui Qt6::Test)
target_compile_definitions(bench_evaluate PRIVATE MALARIALENS_SHARED_DATA="${MALARIALENS_SHARED_DATA}")
