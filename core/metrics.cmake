target_sources(malarialens_core PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/metrics.cpp ${CMAKE_CURRENT_SOURCE_DIR}/metrics.h)
target_sources(malarialens_core PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/pdfreport.cpp ${CMAKE_CURRENT_SOURCE_DIR}/pdfreport.h)
