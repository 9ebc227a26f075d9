# GUI tests of the classification and evaluation pages (real embedded model, offscreen).
ml_add_test(tst_classifygui CLI SOURCES tst_classifygui.cpp testimages.h testimages.cpp LIBS malarialens_ui TIMEOUT 600)
