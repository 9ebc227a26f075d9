# Review and relabel (issue 8): the corrections database and its faults, the review queue,
# the reviewer's session, Grad-CAM/occlusion heatmaps, the CLI (incl. kill -9 mid-write)
# and the Review page.
ml_add_test(tst_correctionstore SOURCES tst_correctionstore.cpp reviewdata.h LIBS malarialens_core TIMEOUT 120)
ml_add_test(tst_reviewqueue SOURCES tst_reviewqueue.cpp reviewdata.h LIBS malarialens_core TIMEOUT 60)
ml_add_test(tst_gradcam SOURCES tst_gradcam.cpp reviewdata.h LIBS malarialens_models ${TORCH_LIBRARIES} TIMEOUT 180)
target_precompile_headers(tst_gradcam REUSE_FROM malarialens_models)
ml_add_test(tst_cli_review CLI SOURCES tst_cli_review.cpp reviewdata.h LIBS malarialens_core TIMEOUT 300)
ml_add_test(tst_reviewpage GUI SOURCES tst_reviewpage.cpp reviewdata.h LIBS malarialens_ui TIMEOUT 300)
