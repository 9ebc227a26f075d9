ml_add_test(tst_metrics SOURCES tst_metrics.cpp LIBS malarialens_core)
ml_add_test(tst_cli_evaluate CLI SOURCES tst_cli_evaluate.cpp testimages.h testimages.cpp LIBS malarialens_core TIMEOUT 600)
ml_add_test(tst_pdfreport SOURCES tst_pdfreport.cpp testimages.h testimages.cpp LIBS malarialens_core)
