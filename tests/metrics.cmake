ml_add_test(tst_metrics SOURCES tst_metrics.cpp LIBS malarialens_core)
