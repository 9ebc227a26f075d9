#pragma once
// Synthetic thin-smear fields for the segmentation tests: pale background, pink/mauve discs
// at known positions, so the expected cells and boxes are exact.

#include <opencv2/core/mat.hpp>
#include <opencv2/imgproc.hpp>

#include <vector>

namespace mltest {

struct Disc
{
    cv::Point centre;
    int radius;
    cv::Rect box() const
    {
        return cv::Rect(centre.x - radius, centre.y - radius, 2 * radius + 1, 2 * radius + 1);
    }
};

/// Background and cell colours (BGR) close to a Giemsa field: green-grey glass, mauve cells.
inline cv::Scalar fieldBackground()
{
    return cv::Scalar(195, 222, 200);
}
inline cv::Scalar cellColour()
{
    return cv::Scalar(160, 115, 170);
}

/// Draws `discs` on a w x h background. Each disc gets a slightly paler centre (the central
/// pallor of a biconcave red cell), which the segmenter must fill, and mild noise is added so
/// thresholds are not tested on perfectly flat colours.
inline cv::Mat drawField(int w, int h, const std::vector<Disc>& discs, bool noise = true)
{
    cv::Mat img(h, w, CV_8UC3, fieldBackground());
    for (const Disc& d : discs) {
        cv::circle(img, d.centre, d.radius, cellColour(), cv::FILLED, cv::LINE_8);
        cv::circle(img, d.centre, std::max(1, d.radius / 3), cv::Scalar(175, 140, 185), cv::FILLED,
                   cv::LINE_8);
    }
    if (noise) {
        cv::theRNG().state = 7; // the same noise every run
        cv::Mat n16(img.size(), CV_16SC3), img16;
        cv::randn(n16, cv::Scalar::all(0), cv::Scalar::all(3));
        img.convertTo(img16, CV_16SC3);
        img16 += n16;
        img16.convertTo(img, CV_8UC3);
    }
    return img;
}

/// A grid of `cols` x `rows` separate discs of radius r, spaced 3r apart, starting 2r from
/// the top-left corner.
inline std::vector<Disc> discGrid(int cols, int rows, int r)
{
    std::vector<Disc> out;
    for (int j = 0; j < rows; ++j)
        for (int i = 0; i < cols; ++i)
            out.push_back({cv::Point(2 * r + i * 3 * r, 2 * r + j * 3 * r), r});
    return out;
}

} // namespace mltest
