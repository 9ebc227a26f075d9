# Whole field images (issue 7): red blood cell segmentation, the field pipeline and the
# IML ground truth.
target_sources(malarialens_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cellsegmenter.cpp ${CMAKE_CURRENT_LIST_DIR}/cellsegmenter.h
  ${CMAKE_CURRENT_LIST_DIR}/fieldanalysis.cpp ${CMAKE_CURRENT_LIST_DIR}/fieldanalysis.h
  ${CMAKE_CURRENT_LIST_DIR}/fieldannotations.cpp ${CMAKE_CURRENT_LIST_DIR}/fieldannotations.h
)
