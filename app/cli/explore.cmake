# Exploratory views (issue 3): `mean` and `grid` subcommands.
target_sources(malarialens-cli PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/cmd_mean.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/cmd_grid.cpp
)
