# Retraining (issue 5): the model registry and its table model. No torch (core).
target_sources(malarialens_core PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/modelregistry.cpp ${CMAKE_CURRENT_SOURCE_DIR}/modelregistry.h
  ${CMAKE_CURRENT_SOURCE_DIR}/registrytablemodel.cpp ${CMAKE_CURRENT_SOURCE_DIR}/registrytablemodel.h
)
