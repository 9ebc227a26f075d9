# Retraining (issue 5): training controller and worker, Train page with live curves, Models
# (registry) page.
target_sources(malarialens_ui PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/trainingoutcome.h
  ${CMAKE_CURRENT_SOURCE_DIR}/trainingworker.cpp ${CMAKE_CURRENT_SOURCE_DIR}/trainingworker.h
  ${CMAKE_CURRENT_SOURCE_DIR}/trainingcontroller.cpp ${CMAKE_CURRENT_SOURCE_DIR}/trainingcontroller.h
  ${CMAKE_CURRENT_SOURCE_DIR}/trainingcurves.cpp ${CMAKE_CURRENT_SOURCE_DIR}/trainingcurves.h
  ${CMAKE_CURRENT_SOURCE_DIR}/trainingpage.cpp ${CMAKE_CURRENT_SOURCE_DIR}/trainingpage.h
  ${CMAKE_CURRENT_SOURCE_DIR}/registrypage.cpp ${CMAKE_CURRENT_SOURCE_DIR}/registrypage.h
)
