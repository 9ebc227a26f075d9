#pragma once
// Logging category of the models library ("malarialens.models").

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcModels)
