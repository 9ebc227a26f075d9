# Exploratory views (issue 3): pure image ops, per-class mean / HSV histograms, grids.
target_sources(malarialens_core PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/imageops.cpp ${CMAKE_CURRENT_SOURCE_DIR}/imageops.h
  ${CMAKE_CURRENT_SOURCE_DIR}/imagepass.cpp ${CMAKE_CURRENT_SOURCE_DIR}/imagepass.h
  ${CMAKE_CURRENT_SOURCE_DIR}/explorecache.cpp ${CMAKE_CURRENT_SOURCE_DIR}/explorecache.h
  ${CMAKE_CURRENT_SOURCE_DIR}/meanimage.cpp ${CMAKE_CURRENT_SOURCE_DIR}/meanimage.h
  ${CMAKE_CURRENT_SOURCE_DIR}/hsvhistogram.cpp ${CMAKE_CURRENT_SOURCE_DIR}/hsvhistogram.h
  ${CMAKE_CURRENT_SOURCE_DIR}/gridrenderer.cpp ${CMAKE_CURRENT_SOURCE_DIR}/gridrenderer.h
  ${CMAKE_CURRENT_SOURCE_DIR}/explorefigures.cpp ${CMAKE_CURRENT_SOURCE_DIR}/explorefigures.h
)
