# Review and relabel (issue 8): the Review page and the heatmap view (also used by the
# evaluation galleries).
target_sources(malarialens_ui PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/heatmapview.cpp ${CMAKE_CURRENT_LIST_DIR}/heatmapview.h
  ${CMAKE_CURRENT_LIST_DIR}/heatmapdialog.cpp ${CMAKE_CURRENT_LIST_DIR}/heatmapdialog.h
  ${CMAKE_CURRENT_LIST_DIR}/reviewpage.cpp ${CMAKE_CURRENT_LIST_DIR}/reviewpage.h
)
