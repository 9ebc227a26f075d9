# malarialens-cli corrections export|import and explain (issue 8: review and relabel).
target_sources(malarialens-cli PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cmd_corrections.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cmd_explain.cpp
)
target_link_libraries(malarialens-cli PRIVATE malarialens_models)
