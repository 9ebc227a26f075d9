#include "cropclassifier.h"

#include "preprocess.h"

namespace ml {

CropClassifier cellCropClassifier(const Classifier& classifier)
{
    return [classifier](const std::vector<cv::Mat>& crops, QString* error) {
        std::vector<cv::Mat> in;
        in.reserve(crops.size());
        for (const cv::Mat& c : crops)
            in.push_back(preprocessImage(c));
        return classifier.predict(in, error);
    };
}

} // namespace ml
