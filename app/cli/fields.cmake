# malarialens-cli segment (issue 7): whole field images. Classification uses the models
# library (malarialens_models), segmentation and metrics live in core.
target_sources(malarialens-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_segment.cpp)
target_link_libraries(malarialens-cli PRIVATE malarialens_models)
