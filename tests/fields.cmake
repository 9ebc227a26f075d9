# Whole field images (issue 7): segmentation, IML annotations/metrics, and the CLI.
ml_add_test(tst_cellsegmenter SOURCES tst_cellsegmenter.cpp fieldimages.h LIBS malarialens_core TIMEOUT 300)
ml_add_test(tst_fieldannotations SOURCES tst_fieldannotations.cpp LIBS malarialens_core TIMEOUT 60)
ml_add_test(tst_cli_segment SOURCES tst_cli_segment.cpp fieldimages.h LIBS malarialens_core TIMEOUT 120)
ml_add_test(tst_fieldpage SOURCES tst_fieldpage.cpp fieldimages.h LIBS malarialens_ui GUI TIMEOUT 120)
