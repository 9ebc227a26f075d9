# Exploratory views (issue 3).
ml_add_test(tst_imageops SOURCES tst_imageops.cpp LIBS malarialens_core)
ml_add_test(tst_augment SOURCES tst_augment.cpp LIBS malarialens_core)
ml_add_test(tst_meanimage SOURCES tst_meanimage.cpp LIBS malarialens_core)
ml_add_test(tst_gridrenderer SOURCES tst_gridrenderer.cpp LIBS malarialens_core)
ml_add_test(tst_cli_explore SOURCES tst_cli_explore.cpp LIBS malarialens_core)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tst_explorepage.cpp AND TARGET malarialens_ui)
  ml_add_test(tst_explorepage GUI SOURCES tst_explorepage.cpp LIBS malarialens_ui)
endif()
