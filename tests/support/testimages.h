#pragma once
// Test fixtures: image files of every kind the browser must accept or refuse, written by
// the test itself into a temporary folder.

#include <QString>

namespace mltest {

/// Writes a w x h image with a colour gradient via OpenCV; `ext` picks the format
/// (png, jpg, tif, bmp). Returns false when writing failed.
bool writeColourImage(const QString& path, int w = 40, int h = 30);
bool writeGrayImage(const QString& path, int w = 40, int h = 30);
bool writeRgbaPng(const QString& path, int w = 40, int h = 30);
bool write16BitPng(const QString& path, int w = 40, int h = 30);
bool writePalettePng(const QString& path, int w = 40, int h = 30);
/// A valid PNG cut to its first half: header readable, pixel data missing.
bool writeTruncatedPng(const QString& path);
/// A JPEG cut before its end-of-image marker.
bool writeTruncatedJpeg(const QString& path);
/// Random bytes under an image extension.
bool writeGarbage(const QString& path, int bytes = 2000);
/// A file of 0 bytes.
bool writeEmpty(const QString& path);
/// A valid PNG header claiming width x height, followed by junk (no giant allocation).
bool writeHugeHeaderPng(const QString& path, int width, int height);
/// Shared data folder (../shared/data) or an empty string when it is missing.
QString sharedData();

} // namespace mltest
