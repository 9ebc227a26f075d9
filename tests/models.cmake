# Tests of the models library (networks, preprocessing, classifier, inference, training, CLI).
# Torch-including tests reuse the library's precompiled torch header (compile time).
ml_add_test(tst_networks SOURCES tst_networks.cpp LIBS malarialens_models ${TORCH_LIBRARIES})
target_precompile_headers(tst_networks REUSE_FROM malarialens_models)
ml_add_test(tst_preprocess SOURCES tst_preprocess.cpp LIBS malarialens_models)
ml_add_test(tst_evaluation SOURCES tst_evaluation.cpp LIBS malarialens_models)
ml_add_test(tst_classifier SOURCES tst_classifier.cpp LIBS malarialens_models ${TORCH_LIBRARIES})
target_precompile_headers(tst_classifier REUSE_FROM malarialens_models)
ml_add_test(tst_inference SOURCES tst_inference.cpp LIBS malarialens_models TIMEOUT 180)
ml_add_test(tst_trainer SOURCES tst_trainer.cpp LIBS malarialens_models TIMEOUT 600)
ml_add_test(tst_cli_models SOURCES tst_cli_models.cpp LIBS malarialens_models TIMEOUT 180)
add_dependencies(tst_cli_models malarialens-cli)
# The optimised inference path (BatchNorm folded) against the trained network, on real cells.
ml_add_test(tst_fusedinference SOURCES tst_fusedinference.cpp LIBS malarialens_models ${TORCH_LIBRARIES} TIMEOUT 180)
target_precompile_headers(tst_fusedinference REUSE_FROM malarialens_models)
