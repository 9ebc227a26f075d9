// The domain check (core/cell/domaincheck.h) on real NIH cells from ../shared/data: a domain
// recorded from some patients accepts other patients of the same lab, and flags a shifted copy
// (bluer stain, cells twice the size, undecided outputs) with the reasons in plain words.
#include "augment.h"
#include "domaincheck.h"
#include "imageio.h"
#include "patientid.h"

#include <QDir>
#include <QJsonArray>
#include <QTest>

#include <opencv2/imgproc.hpp>

using namespace ml;

namespace {

const QString kCells = QStringLiteral(MALARIALENS_SHARED_DATA "/nih-cells");

struct Cell
{
    cv::Mat rgb; ///< 64 x 64 float RGB
    cv::Size original;
    QString patient;
};

std::vector<Cell> loadCells(int perClass)
{
    std::vector<Cell> out;
    for (const QString& cls : {QStringLiteral("Parasitized"), QStringLiteral("Uninfected")}) {
        const QDir dir(kCells + QLatin1Char('/') + cls);
        const QStringList files = dir.entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        // Evenly spread over the folder, so many patients are in.
        const int step = std::max(1, int(files.size()) / perClass);
        for (int i = 0; i < files.size() && int(out.size()) < 2 * perClass; i += step) {
            const DecodedImage d = decodeImage(dir.filePath(files[i]));
            if (!d.ok())
                continue;
            cv::Mat small;
            cv::resize(d.bgr, small, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
            out.push_back({toFloatRgb(small), d.bgr.size(), patientIdFromFileName(files[i])});
        }
    }
    return out;
}

} // namespace

class TestDomainCheck : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void measuresNihCells();
    void otherPatientsOfTheSameLabAreInDomain();
    void shiftedCopyIsFlaggedWithReasons();
    void undecidedOutputsAreFlagged();
    void profileRoundTripsThroughTheCard();
    void withoutProfileNothingIsChecked();

private:
    std::vector<Cell> m_cells;
    DomainProfile m_profile;
    std::vector<CellAppearance> m_heldOut;
};

void TestDomainCheck::initTestCase()
{
    if (!QDir(kCells).exists())
        QSKIP("../shared/data/nih-cells is missing");
    m_cells = loadCells(300);
    QVERIFY(m_cells.size() > 400);
    // Patients split by the parity of a hash of their id: the profile never sees the held-out
    // patients.
    std::vector<CellAppearance> train;
    for (const Cell& c : m_cells) {
        const CellAppearance a = measureCell(c.rgb, c.original);
        (qHash(c.patient) % 2 == 0 ? train : m_heldOut).push_back(a);
    }
    QVERIFY(train.size() > 100 && m_heldOut.size() > 100);
    m_profile.sources << summariseSource(QStringLiteral("nih"), train,
                                         std::vector<float>(train.size(), 0.02f));
}

void TestDomainCheck::measuresNihCells()
{
    const SourceDomain& s = m_profile.sources.first();
    QVERIFY(s.cells > 100);
    // NIH crops: about 130 px cells on a black surround, pink (a* > 0) stain.
    QVERIFY2(s.diameter.median > 80 && s.diameter.median < 180,
             qPrintable(QString::number(s.diameter.median)));
    QVERIFY(s.surround.median < 0.05);
    QVERIFY(s.a.median > 5);
    QVERIFY(s.lightness.low < s.lightness.median && s.lightness.median < s.lightness.high);
}

void TestDomainCheck::otherPatientsOfTheSameLabAreInDomain()
{
    const DomainVerdict v =
        checkDomain(m_profile, m_heldOut, std::vector<float>(m_heldOut.size(), 0.03f));
    QVERIFY(v.checked);
    QVERIFY2(v.inDomain, qPrintable(v.reasons.join(QStringLiteral("; "))));
    QCOMPARE(v.nearestSource, QStringLiteral("nih"));
}

void TestDomainCheck::shiftedCopyIsFlaggedWithReasons()
{
    // Another lab: a bluer stain (hue turned towards blue, as a Giemsa at another pH) and a
    // camera at twice the magnification.
    std::vector<CellAppearance> shifted;
    for (const Cell& c : m_cells) {
        if (qHash(c.patient) % 2 == 0)
            continue;
        const cv::Mat bluer = jitterColour(c.rgb, -80.0f, 1.6f);
        shifted.push_back(measureCell(bluer, c.original * 2));
    }
    const DomainVerdict v =
        checkDomain(m_profile, shifted, std::vector<float>(shifted.size(), 0.03f));
    QVERIFY(v.checked);
    QVERIFY(!v.inDomain);
    const QString all = v.reasons.join(QStringLiteral("; "));
    qInfo("%s", qPrintable(v.summary()));
    QVERIFY2(all.contains(QStringLiteral("training size")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("stain bluer")), qPrintable(all));
    QVERIFY(v.summary().contains(QStringLiteral("Out of the model's domain")));
    QVERIFY(!v.toJson().value(QStringLiteral("in_domain")).toBool());
    QCOMPARE(v.toJson().value(QStringLiteral("reasons")).toArray().size(), v.reasons.size());
}

void TestDomainCheck::undecidedOutputsAreFlagged()
{
    // The same cells, but the model hesitates on 80 % of them.
    std::vector<float> p(m_heldOut.size(), 0.02f);
    for (size_t i = 0; i < p.size(); ++i)
        if (i % 5 != 0)
            p[i] = 0.5f;
    const DomainVerdict v = checkDomain(m_profile, m_heldOut, p);
    QVERIFY(!v.inDomain);
    QVERIFY2(v.reasons.join(QString()).contains(QStringLiteral("between 0.2 and 0.8")),
             qPrintable(v.reasons.join(QStringLiteral("; "))));
}

void TestDomainCheck::profileRoundTripsThroughTheCard()
{
    const QJsonObject card{{QStringLiteral("domain"), m_profile.toJson()}};
    const DomainProfile back = DomainProfile::fromCard(card);
    QCOMPARE(back.sources.size(), 1);
    QCOMPARE(back.sources.first().name, QStringLiteral("nih"));
    QCOMPARE(back.sources.first().b.median, m_profile.sources.first().b.median);
    QCOMPARE(back.sources.first().diameter.high, m_profile.sources.first().diameter.high);
}

void TestDomainCheck::withoutProfileNothingIsChecked()
{
    const DomainVerdict v = checkDomain(DomainProfile{}, m_heldOut, {});
    QVERIFY(!v.checked);
    QVERIFY(v.summary().contains(QStringLiteral("not checked")));
}

QTEST_GUILESS_MAIN(TestDomainCheck)
#include "tst_domaincheck.moc"
