# Review and relabel (issue 8): the corrections database (Qt SQL, SQLite), corrections
# applied to a folder's labels, the review queue and the reviewer's session.
target_sources(malarialens_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/correctionstore.cpp ${CMAKE_CURRENT_LIST_DIR}/correctionstore.h
  ${CMAKE_CURRENT_LIST_DIR}/labelcorrections.cpp ${CMAKE_CURRENT_LIST_DIR}/labelcorrections.h
  ${CMAKE_CURRENT_LIST_DIR}/reviewqueue.cpp ${CMAKE_CURRENT_LIST_DIR}/reviewqueue.h
  ${CMAKE_CURRENT_LIST_DIR}/reviewsession.cpp ${CMAKE_CURRENT_LIST_DIR}/reviewsession.h
  ${CMAKE_CURRENT_LIST_DIR}/heatmapimage.cpp ${CMAKE_CURRENT_LIST_DIR}/heatmapimage.h
)
target_link_libraries(malarialens_core PUBLIC Qt6::Sql)
