# Exploratory views (issue 3): the Explore page and its widgets.
target_sources(malarialens_ui PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/explorepage.cpp ${CMAKE_CURRENT_SOURCE_DIR}/explorepage.h
  ${CMAKE_CURRENT_SOURCE_DIR}/imagepanel.cpp ${CMAKE_CURRENT_SOURCE_DIR}/imagepanel.h
  ${CMAKE_CURRENT_SOURCE_DIR}/meanimageview.cpp ${CMAKE_CURRENT_SOURCE_DIR}/meanimageview.h
  ${CMAKE_CURRENT_SOURCE_DIR}/hsvhistogramplot.cpp ${CMAKE_CURRENT_SOURCE_DIR}/hsvhistogramplot.h
)
