# Whole field images (issue 7): the Fields page, its image view and legend. Classification of
# the segmented cells uses the models library (no torch headers in these files).
target_sources(malarialens_ui PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/fieldpage.cpp ${CMAKE_CURRENT_LIST_DIR}/fieldpage.h
  ${CMAKE_CURRENT_LIST_DIR}/fieldview.cpp ${CMAKE_CURRENT_LIST_DIR}/fieldview.h
  ${CMAKE_CURRENT_LIST_DIR}/probabilitylegend.cpp ${CMAKE_CURRENT_LIST_DIR}/probabilitylegend.h
)
target_link_libraries(malarialens_ui PUBLIC malarialens_models)
