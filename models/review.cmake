# Review and relabel (issue 8): explanation heatmaps (Grad-CAM on the last convolution of the
# native networks, occlusion sensitivity for any model).
target_sources(malarialens_models PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gradcam.cpp ${CMAKE_CURRENT_LIST_DIR}/gradcam.h
)
