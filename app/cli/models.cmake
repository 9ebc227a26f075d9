# malarialens-cli subcommands of the models area (classify, train, model-info).
target_sources(malarialens-cli PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cmd_classify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cmd_train.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cmd_modelinfo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/modeloptions.cpp ${CMAKE_CURRENT_LIST_DIR}/modeloptions.h
)
target_link_libraries(malarialens-cli PRIVATE malarialens_models)
