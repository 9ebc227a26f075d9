target_sources(malarialens-cli PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cli/cmd_evaluate.cpp)
target_sources(malarialens-cli PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cli/cmd_report.cpp)
