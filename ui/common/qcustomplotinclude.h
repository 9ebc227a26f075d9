#pragma once
// Include QCustomPlot through this header only. Its header is written with Qt's keywords
// (signals, slots, emit, foreach), which QT_NO_KEYWORDS hides in this project because
// libtorch uses `slots` as an identifier. Map them to the Q_ macros just for this header.

#ifndef signals
#define signals Q_SIGNALS
#define ML_UNDEF_SIGNALS
#endif
#ifndef slots
#define slots Q_SLOTS
#define ML_UNDEF_SLOTS
#endif
#ifndef emit
#define emit Q_EMIT
#define ML_UNDEF_EMIT
#endif
#ifndef foreach
#define foreach Q_FOREACH
#define ML_UNDEF_FOREACH
#endif

#include <qcustomplot.h>

#ifdef ML_UNDEF_SIGNALS
#undef signals
#undef ML_UNDEF_SIGNALS
#endif
#ifdef ML_UNDEF_SLOTS
#undef slots
#undef ML_UNDEF_SLOTS
#endif
#ifdef ML_UNDEF_EMIT
#undef emit
#undef ML_UNDEF_EMIT
#endif
#ifdef ML_UNDEF_FOREACH
#undef foreach
#undef ML_UNDEF_FOREACH
#endif
