# Retraining (issue 5): model registry, training controller, Train and Models pages, and the
# CLI surviving `kill -9`. Training tests use small real NIH subsets (symlinked) and skip when
# the shared data folder is missing.
ml_add_test(tst_modelregistry GUI SOURCES tst_modelregistry.cpp LIBS malarialens_core TIMEOUT 60)
ml_add_test(tst_trainingcontroller SOURCES tst_trainingcontroller.cpp trainingdata.h trainingdata.cpp
            LIBS malarialens_ui TIMEOUT 240)
ml_add_test(tst_trainingpage GUI SOURCES tst_trainingpage.cpp trainingdata.h trainingdata.cpp
            LIBS malarialens_ui TIMEOUT 240)
ml_add_test(tst_cli_trainkill CLI SOURCES tst_cli_trainkill.cpp trainingdata.h trainingdata.cpp
            LIBS malarialens_models TIMEOUT 240)
