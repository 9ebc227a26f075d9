target_sources(malarialens_core PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/metrics.cpp ${CMAKE_CURRENT_SOURCE_DIR}/metrics.h)
