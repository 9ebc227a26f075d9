#pragma once
// The dataset summary the study printed: counts per class and patient, image sizes, pixel
// range and channel count, plus the files that could not be decoded and why.

#include "dataset.h"

#include <QJsonObject>

#include <atomic>
#include <functional>

namespace ml {

/// Figures over every decodable image of a Dataset.
struct DatasetSummary
{
    int files = 0;                 ///< image files listed by the scan
    int images = 0;                ///< decoded successfully
    QMap<QString, int> perClass;   ///< decodable images per class
    QMap<QString, int> perPatient; ///< decodable images per patient
    int minWidth = 0, medianWidth = 0, maxWidth = 0;
    int minHeight = 0, medianHeight = 0, maxHeight = 0;
    int minPixel = 0, maxPixel = 0; ///< over all channels of the 8-bit decoded images
    QMap<int, int> channelCounts;   ///< channels stored in the file -> image count
    QList<SkippedFile> skipped;     ///< scan-time and decode-time skips
    bool cancelled = false;
};

/// Options of summarizeDataset().
struct SummaryOptions
{
    int threads = 2;                                   ///< decoding threads
    std::function<void(int done, int total)> progress; ///< called from worker threads
    const std::atomic<bool>* cancel = nullptr;
};

/// Decodes every image of `dataset` in parallel and summarises it. Thread-safe.
DatasetSummary summarizeDataset(const Dataset& dataset, const SummaryOptions& options = {});

/// The summary as JSON; keys: images, files, classes (name -> count), patients (count),
/// patient_counts, width/height {min, median, max}, pixel {min, max}, channels, skipped
/// (list of {path, reason}).
QJsonObject summaryToJson(const Dataset& dataset, const DatasetSummary& summary);

} // namespace ml
