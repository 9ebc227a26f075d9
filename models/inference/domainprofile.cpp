#include "domainprofile.h"

#include "classifier.h"
#include "dataset.h"
#include "fieldanalysis.h"
#include "preprocess.h"

#include <QThreadPool>
#include <QtConcurrent/QtConcurrentMap>

namespace ml {

DomainProfile measureDomain(const QList<NamedSource>& sources, const Classifier& classifier,
                            int perSource, QString* error, const std::atomic<bool>* cancel)
{
    DomainProfile profile;
    for (const NamedSource& source : sources) {
        if (!source.dataset || source.dataset->images.isEmpty())
            continue;
        const Dataset& ds = *source.dataset;
        const int n = int(ds.images.size());
        const int stride = qMax(1, n / qMax(1, perSource));
        QList<int> picked;
        for (int i = 0; i < n && picked.size() < perSource; i += stride)
            picked.append(i);
        struct Measured
        {
            PreprocessedImage image;
            CellAppearance appearance;
        };
        const QList<Measured> measured = QtConcurrent::blockingMapped(picked, [&ds](int i) {
            Measured m{loadPreprocessed(ds.absolutePath(i)), {}};
            if (m.image.ok())
                m.appearance = measureCell(m.image.rgb, m.image.originalSize);
            return m;
        });
        std::vector<CellAppearance> cells;
        std::vector<cv::Mat> images;
        for (const Measured& m : measured) {
            if (!m.image.ok())
                continue;
            cells.push_back(m.appearance);
            images.push_back(m.image.rgb);
        }
        std::vector<float> probabilities;
        for (size_t start = 0; start < images.size(); start += 256) {
            if (cancel && cancel->load())
                return {};
            const std::vector<cv::Mat> batch(images.begin() + long(start),
                                             images.begin() +
                                                 long(std::min(images.size(), start + 256)));
            QString why;
            const auto p = classifier.predict(batch, &why);
            if (!p) {
                if (error)
                    *error = why;
                return {};
            }
            probabilities.insert(probabilities.end(), p->begin(), p->end());
        }
        profile.sources << summariseSource(source.name, cells, probabilities);
    }
    return profile;
}

std::vector<CellAppearance> fieldCellAppearances(const cv::Mat& bgr, const FieldResult& result,
                                                 const FieldOptions& options)
{
    std::vector<size_t> all(result.cells.size());
    for (size_t i = 0; i < all.size(); ++i)
        all[i] = i;
    const std::vector<cv::Mat> crops = classifierCrops(bgr, result.cells, all, options);
    std::vector<CellAppearance> out;
    out.reserve(crops.size());
    for (const cv::Mat& crop : crops)
        out.push_back(crop.empty() ? CellAppearance{}
                                   : measureCell(preprocessImage(crop), crop.size()));
    return out;
}

} // namespace ml
