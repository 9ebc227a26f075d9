// Rogan-Gladen parasitemia correction, its 95 % CI and the infection decision
// (core/metrics/prevalence.h), against cases worked by hand from the formulas (the CI:
// delta method on Agresti-Coull-adjusted proportions, Lang & Reiczigel 2014).
#include "prevalence.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <cmath>

using namespace ml;

class TestPrevalence : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roganGladenPointEstimate_data();
    void roganGladenPointEstimate();
    void confidenceIntervalMatchesHandWorkedCase();
    void intervalWidensWithFewerValidationCells();
    void clampsToZeroWhenFewerCallsThanFalsePositives();
    void badInputGivesMessageNeverNaN_data();
    void badInputGivesMessageNeverNaN();
    void ratesFromCardValidation();
    void labCalibrationWinsOverValidation();
    void nearestSourceRatesWinOverPooled();
    void sourceRatesAsTheTrainerWritesThem();
    void fieldRatesCorrectFieldCounts();
    void aShareOfRedCellsWhenTheRatesCountDebris();
    void badNoCellCountGivesMessage();
    void fieldRatesCarryTheirNoCellCount();
    void countSpreadBetweenFieldsWidensTheInterval();
    void designEffectMatchesHandWorkedCases();
    void designEffectWidensTheInterval();
    void designEffectsAreReadFromTheCard();
    void cardWithoutValidationFigures();
    void ratesAtAnotherThresholdAreNotUsed();
    void decisionFromIntervalAndConfirmation();
    void jsonKeys();
};

static ErrorRates rates(double se, int pos, double sp, int neg)
{
    ErrorRates r;
    r.sensitivity = se;
    r.specificity = sp;
    r.positives = pos;
    r.negatives = neg;
    r.source = QStringLiteral("test");
    return r;
}

void TestPrevalence::roganGladenPointEstimate_data()
{
    QTest::addColumn<int>("called");
    QTest::addColumn<int>("cells");
    QTest::addColumn<double>("se");
    QTest::addColumn<double>("sp");
    QTest::addColumn<double>("expected");
    // (0.14 + 0.95 - 1) / (0.9 + 0.95 - 1) = 0.09 / 0.85
    QTest::newRow("14 % apparent") << 140 << 1000 << 0.9 << 0.95 << 0.09 / 0.85;
    // A perfect classifier: corrected = apparent.
    QTest::newRow("perfect classifier") << 37 << 200 << 1.0 << 1.0 << 37.0 / 200.0;
    // (0.5 + 0.8 - 1) / (0.7 + 0.8 - 1) = 0.3 / 0.5
    QTest::newRow("half called") << 50 << 100 << 0.7 << 0.8 << 0.6;
    // Everything called, Se 0.9: (1 + 0.95 - 1) / 0.85 > 1 -> clamped to 1.
    QTest::newRow("clamped to 1") << 100 << 100 << 0.9 << 0.95 << 1.0;
}

void TestPrevalence::roganGladenPointEstimate()
{
    QFETCH(int, called);
    QFETCH(int, cells);
    QFETCH(double, se);
    QFETCH(double, sp);
    QFETCH(double, expected);
    const PrevalenceEstimate e = estimatePrevalence(called, cells, rates(se, 1000, sp, 2000));
    QVERIFY2(e.ok, qPrintable(e.error));
    QCOMPARE(e.apparent, double(called) / cells);
    QVERIFY(std::abs(e.corrected - expected) < 1e-12);
    QVERIFY(e.low <= e.corrected && e.corrected <= e.high);
    QVERIFY(e.low >= 0.0 && e.high <= 1.0);
}

void TestPrevalence::confidenceIntervalMatchesHandWorkedCase()
{
    // 140 of 1000 called; Se 900/1000, Sp 1900/2000. z = 1.96:
    // p~ = (140 + 1.92) / 1003.84 = 0.14138, Se~ = 901.92 / 1003.84 = 0.89848,
    // Sp~ = 1901.92 / 2003.84 = 0.94914, J~ = 0.84762, centre = 0.09052 / 0.84762 = 0.10679,
    // var = (p~q~/1003.84 + c^2 Se~(1-Se~)/1003.84 + (1-c)^2 Sp~(1-Sp~)/2003.84) / J~^2
    //     = 1.9030e-4, half width 0.02748 -> [0.07931, 0.13426].
    const PrevalenceEstimate e = estimatePrevalence(140, 1000, rates(0.9, 1000, 0.95, 2000));
    QVERIFY(e.ok);
    QVERIFY2(std::abs(e.low - 0.0793135) < 1e-5, qPrintable(QString::number(e.low, 'f', 7)));
    QVERIFY2(std::abs(e.high - 0.1342643) < 1e-5, qPrintable(QString::number(e.high, 'f', 7)));
}

void TestPrevalence::intervalWidensWithFewerValidationCells()
{
    const PrevalenceEstimate many = estimatePrevalence(140, 1000, rates(0.9, 10000, 0.95, 20000));
    const PrevalenceEstimate few = estimatePrevalence(140, 1000, rates(0.9, 50, 0.95, 100));
    QVERIFY(many.ok && few.ok);
    QCOMPARE(few.corrected, many.corrected);
    // The uncertainty of Se and Sp is carried into the interval.
    QVERIFY(few.high - few.low > 1.5 * (many.high - many.low));
}

void TestPrevalence::clampsToZeroWhenFewerCallsThanFalsePositives()
{
    // 1.4 % true parasitemia hidden under a 3 % false-positive rate: 2 % apparent is below
    // what false positives alone give, so the corrected figure is 0, not negative.
    const PrevalenceEstimate e = estimatePrevalence(20, 1000, rates(0.96, 1100, 0.97, 1700));
    QVERIFY(e.ok);
    QCOMPARE(e.corrected, 0.0);
    QCOMPARE(e.low, 0.0);
    QVERIFY(e.high > 0.0 && e.high < 0.02);
}

void TestPrevalence::badInputGivesMessageNeverNaN_data()
{
    QTest::addColumn<int>("called");
    QTest::addColumn<int>("cells");
    QTest::addColumn<double>("se");
    QTest::addColumn<double>("sp");
    QTest::addColumn<int>("pos");
    QTest::addColumn<QString>("needle");
    QTest::newRow("zero cells") << 0 << 0 << 0.9 << 0.95 << 100 << QStringLiteral("no cells");
    QTest::newRow("se + sp = 1") << 5 << 100 << 0.5 << 0.5 << 100 << QStringLiteral("chance");
    QTest::newRow("se + sp < 1") << 5 << 100 << 0.3 << 0.4 << 100 << QStringLiteral("chance");
    QTest::newRow("NaN sensitivity")
        << 5 << 100 << std::nan("") << 0.9 << 100 << QStringLiteral("not proportions");
    QTest::newRow("count above cells")
        << 101 << 100 << 0.9 << 0.9 << 100 << QStringLiteral("not a valid count");
    QTest::newRow("no validation counts")
        << 5 << 100 << 0.9 << 0.9 << 0 << QStringLiteral("without the number");
}

void TestPrevalence::badInputGivesMessageNeverNaN()
{
    QFETCH(int, called);
    QFETCH(int, cells);
    QFETCH(double, se);
    QFETCH(double, sp);
    QFETCH(int, pos);
    QFETCH(QString, needle);
    const PrevalenceEstimate e = estimatePrevalence(called, cells, rates(se, pos, sp, pos));
    QVERIFY(!e.ok);
    QVERIFY2(e.error.contains(needle), qPrintable(e.error));
    QVERIFY(std::isfinite(e.apparent) && std::isfinite(e.corrected));
    const QJsonObject j = e.toJson();
    QVERIFY(j.value(QStringLiteral("parasitemia_corrected")).isNull());
    QVERIFY(!j.value(QStringLiteral("parasitemia_error")).toString().isEmpty());
    QVERIFY(e.explanation().contains(e.error));
    QVERIFY(!decideInfection(e).decided);
}

void TestPrevalence::ratesFromCardValidation()
{
    const QJsonObject card{{QStringLiteral("validation"),
                            QJsonObject{{QStringLiteral("cell_level"),
                                         QJsonObject{{QStringLiteral("true_positive"), 1063},
                                                     {QStringLiteral("false_negative"), 39},
                                                     {QStringLiteral("true_negative"), 1674},
                                                     {QStringLiteral("false_positive"), 58}}}}}};
    QString error;
    const auto r = errorRatesFromCard(card, &error);
    QVERIFY2(r, qPrintable(error));
    QCOMPARE(r->positives, 1102);
    QCOMPARE(r->negatives, 1732);
    QVERIFY(std::abs(r->sensitivity - 1063.0 / 1102.0) < 1e-12);
    QVERIFY(std::abs(r->specificity - 1674.0 / 1732.0) < 1e-12);
    QVERIFY(r->source.contains(QStringLiteral("validation")));
}

void TestPrevalence::labCalibrationWinsOverValidation()
{
    const QJsonObject card{{QStringLiteral("validation"),
                            QJsonObject{{QStringLiteral("cell_level"),
                                         QJsonObject{{QStringLiteral("true_positive"), 10},
                                                     {QStringLiteral("false_negative"), 0},
                                                     {QStringLiteral("true_negative"), 10},
                                                     {QStringLiteral("false_positive"), 0}}}}},
                           {QStringLiteral("lab_calibration"),
                            QJsonObject{{QStringLiteral("lab"), QStringLiteral("Clinic A")},
                                        {QStringLiteral("sensitivity"), 0.82},
                                        {QStringLiteral("specificity"), 0.99},
                                        {QStringLiteral("positives"), 40},
                                        {QStringLiteral("negatives"), 900}}}};
    const auto r = errorRatesFromCard(card);
    QVERIFY(r);
    QCOMPARE(r->sensitivity, 0.82);
    QCOMPARE(r->negatives, 900);
    QVERIFY(r->source.contains(QStringLiteral("Clinic A")));
}

void TestPrevalence::nearestSourceRatesWinOverPooled()
{
    // A model trained on two labs is less sensitive on one of them: a slide from that lab is
    // corrected with that lab's rates, not the pooled ones.
    const auto counts = [](int tp, int fn, int tn, int fp) {
        return QJsonObject{{QStringLiteral("true_positive"), tp},
                           {QStringLiteral("false_negative"), fn},
                           {QStringLiteral("true_negative"), tn},
                           {QStringLiteral("false_positive"), fp}};
    };
    const QJsonObject card{
        {QStringLiteral("threshold"), 0.5},
        {QStringLiteral("validation"),
         QJsonObject{{QStringLiteral("cell_level"), counts(1444, 133, 2143, 74)}}},
        {QStringLiteral("validation_by_source"),
         QJsonObject{{QStringLiteral("nih"), counts(1423, 119, 1465, 67)},
                     {QStringLiteral("iml"), counts(21, 14, 678, 7)}}}};
    const auto iml = errorRatesFromCard(card, nullptr, QStringLiteral("iml"));
    QVERIFY(iml);
    QCOMPARE(iml->positives, 35);
    QVERIFY(std::abs(iml->sensitivity - 0.6) < 1e-12);
    QVERIFY(iml->source.contains(QStringLiteral("iml")));
    QCOMPARE(iml->threshold, 0.5);
    const auto pooled = errorRatesFromCard(card);
    QVERIFY(pooled);
    QCOMPARE(pooled->positives, 1577);
    // A source the card does not know falls back to the pooled figures.
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("other"))->positives, 1577);
}

// The trainer's card lists the sources as an array of {source, counts, figures}
// (SourceFigures::toJson()); the per-lab rates must be read from that form too. Before
// 2026-12-01 they were not, and every multi-source model fell back to the pooled rates.
void TestPrevalence::sourceRatesAsTheTrainerWritesThem()
{
    const auto entry = [](const char* name, int tp, int fn, int tn, int fp) {
        return QJsonObject{{QStringLiteral("source"), QString::fromLatin1(name)},
                           {QStringLiteral("cells"), tp + fn + tn + fp},
                           {QStringLiteral("true_positive"), tp},
                           {QStringLiteral("false_negative"), fn},
                           {QStringLiteral("true_negative"), tn},
                           {QStringLiteral("false_positive"), fp}};
    };
    const QJsonObject card{
        {QStringLiteral("threshold"), 0.5},
        {QStringLiteral("validation"),
         QJsonObject{
             {QStringLiteral("cell_level"), QJsonObject{{QStringLiteral("true_positive"), 1444},
                                                        {QStringLiteral("false_negative"), 133},
                                                        {QStringLiteral("true_negative"), 2143},
                                                        {QStringLiteral("false_positive"), 74}}}}},
        {QStringLiteral("validation_by_source"),
         QJsonArray{entry("nih", 1423, 119, 1465, 67), entry("iml", 21, 14, 678, 7)}}};
    const auto iml = errorRatesFromCard(card, nullptr, QStringLiteral("iml"));
    QVERIFY(iml);
    QCOMPARE(iml->positives, 35);
    QCOMPARE(iml->negatives, 685);
    QVERIFY(iml->source.contains(QStringLiteral("iml")));
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("nih"))->positives, 1542);
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("other"))->positives, 1577);
}

// A field's count has detections that are no red cell (debris, cut cells) in it: the card's
// rates measured on every detection of held-out annotated fields (validation_on_fields)
// correct a field count; the crop rates, measured on annotated cells only, still correct a
// count of cell crops. A card without field rates corrects fields with the crop rates.
void TestPrevalence::fieldRatesCorrectFieldCounts()
{
    const auto entry = [](const char* name, int tp, int fn, int tn, int fp) {
        return QJsonObject{{QStringLiteral("source"), QString::fromLatin1(name)},
                           {QStringLiteral("fields"), 30},
                           {QStringLiteral("true_positive"), tp},
                           {QStringLiteral("false_negative"), fn},
                           {QStringLiteral("true_negative"), tn},
                           {QStringLiteral("false_positive"), fp}};
    };
    QJsonObject card{
        {QStringLiteral("threshold"), 0.5},
        {QStringLiteral("validation_by_source"), QJsonArray{entry("iml", 21, 14, 683, 2)}}};
    const auto cropsOnly =
        errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields);
    QVERIFY(cropsOnly);
    QCOMPARE(cropsOnly->negatives, 685);

    card.insert(QStringLiteral("validation_on_fields"), QJsonArray{entry("iml", 25, 15, 3244, 27)});
    const auto fields = errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields);
    QVERIFY(fields);
    QCOMPARE(fields->positives, 40);
    QCOMPARE(fields->negatives, 3271);
    QVERIFY(std::abs(fields->specificity - 3244.0 / 3271.0) < 1e-12);
    QCOMPARE(fields->threshold, 0.5);
    QVERIFY2(fields->source.contains(QStringLiteral("30 iml fields")), qPrintable(fields->source));
    // Crops are still corrected with the crop rates, and another lab with what it has.
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("iml"))->negatives, 685);
    QVERIFY(!errorRatesFromCard(card, nullptr, QStringLiteral("nih"), RatesFor::Fields));
    // A lab calibration still comes first.
    card.insert(QStringLiteral("lab_calibration"),
                QJsonObject{{QStringLiteral("sensitivity"), 0.8},
                            {QStringLiteral("specificity"), 0.99},
                            {QStringLiteral("positives"), 50},
                            {QStringLiteral("negatives"), 900}});
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields)->negatives,
             900);
}

void TestPrevalence::aShareOfRedCellsWhenTheRatesCountDebris()
{
    // 10 parasitized cells (8 called), 100 healthy ones (2 called) and 20 detections that are
    // no red cell (5 called): 15 called of 130 detections. With the debris among the negatives
    // (Sp 113/120), Rogan-Gladen gives back the parasitized share of the detections, 10/130;
    // told that 20 of the rates' 130 detections were no red cell, the parasitized share of
    // the red cells, 10/110, what an annotator counts.
    ErrorRates detections = rates(0.8, 10, 113.0 / 120.0, 120);
    const PrevalenceEstimate ofDetections = estimatePrevalence(15, 130, detections);
    QVERIFY(ofDetections.ok);
    QVERIFY(std::abs(ofDetections.corrected - 10.0 / 130.0) < 1e-12);

    ErrorRates redCells = detections;
    redCells.notACell = 20;
    const PrevalenceEstimate e = estimatePrevalence(15, 130, redCells);
    QVERIFY2(e.ok, qPrintable(e.error));
    QVERIFY(std::abs(e.corrected - 10.0 / 110.0) < 1e-12);
    QCOMPARE(e.apparent, ofDetections.apparent);
    // The interval moves with the figure and widens by the share's own uncertainty: wider
    // than the detections' interval scaled by 130/110 alone.
    QVERIFY(e.low <= e.corrected && e.corrected <= e.high);
    QVERIFY2(e.high - e.low > (ofDetections.high - ofDetections.low) * 130.0 / 110.0,
             qPrintable(QStringLiteral("%1-%2 against %3-%4")
                            .arg(e.low)
                            .arg(e.high)
                            .arg(ofDetections.low)
                            .arg(ofDetections.high)));
    QVERIFY2(e.explanation().contains(QStringLiteral("a share of red cells: 15.4 % of the "
                                                     "detections")),
             qPrintable(e.explanation()));
    QVERIFY(e.toJson()
                .value(QStringLiteral("rates_source"))
                .toString()
                .contains(QStringLiteral("no red cell")));

    // A clean field stays at zero and the decision is the same: the scaling moves no
    // interval's lower bound off zero.
    const PrevalenceEstimate clean = estimatePrevalence(6, 130, redCells);
    QCOMPARE(clean.corrected, 0.0);
    QCOMPARE(clean.low, 0.0);
    QCOMPARE(decideInfection(clean).infected,
             decideInfection(estimatePrevalence(6, 130, detections)).infected);
}

void TestPrevalence::badNoCellCountGivesMessage()
{
    for (int notACell : {-1, 120, 500}) {
        ErrorRates r = rates(0.8, 10, 0.95, 120);
        r.notACell = notACell;
        const PrevalenceEstimate e = estimatePrevalence(15, 130, r);
        QVERIFY(!e.ok);
        QVERIFY2(e.error.contains(QStringLiteral("no red cell")), qPrintable(e.error));
        QVERIFY(std::isfinite(e.corrected) && std::isfinite(e.low) && std::isfinite(e.high));
    }
}

void TestPrevalence::fieldRatesCarryTheirNoCellCount()
{
    // The embedded cards' field rates (write-field-rates.py) and a lab's card (calibrate)
    // record how many of their negatives were no red cell; only field counts are scaled by it.
    QJsonObject card{{QStringLiteral("threshold"), 0.5},
                     {QStringLiteral("validation_on_fields"),
                      QJsonArray{QJsonObject{{QStringLiteral("source"), QStringLiteral("iml")},
                                             {QStringLiteral("fields"), 30},
                                             {QStringLiteral("true_positive"), 34},
                                             {QStringLiteral("false_negative"), 7},
                                             {QStringLiteral("true_negative"), 3217},
                                             {QStringLiteral("false_positive"), 59},
                                             {QStringLiteral("not_a_cell"), 301}}}}};
    const auto fields = errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields);
    QVERIFY(fields);
    QCOMPARE(fields->notACell, 301);
    QVERIFY(estimatePrevalence(60, 3317, *fields).ok);

    card.insert(QStringLiteral("lab_calibration"),
                QJsonObject{{QStringLiteral("sensitivity"), 0.8},
                            {QStringLiteral("specificity"), 0.98},
                            {QStringLiteral("positives"), 50},
                            {QStringLiteral("negatives"), 900},
                            {QStringLiteral("not_a_cell"), 80}});
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields)->notACell,
             80);
    QCOMPARE(errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Cells)->notACell,
             0);
    QCOMPARE(errorRatesFromCard(card)->notACell, 0);
}

void TestPrevalence::countSpreadBetweenFieldsWidensTheInterval()
{
    // 60 of 2,000 cells called with Sp 0.98 on 5,000 cells: a slide read from fields that
    // differ (design effect 4) has the same point estimate and a wider interval, its lower
    // bound at 0 where one binomial count excluded it; what is not a design effect counts as 1.
    const ErrorRates r = rates(0.9, 400, 0.98, 5000);
    const PrevalenceEstimate plain = estimatePrevalence(60, 2000, r);
    QVERIFY(plain.ok && plain.low > 0);
    QCOMPARE(plain.countDesignEffect, 1.0);
    const PrevalenceEstimate spread = estimatePrevalence(60, 2000, r, 4.0);
    QVERIFY(spread.ok);
    QCOMPARE(spread.corrected, plain.corrected);
    QCOMPARE(spread.apparent, plain.apparent);
    QVERIFY(spread.high > plain.high);
    QCOMPARE(spread.low, 0.0);
    QVERIFY(!decideInfection(spread).infected);
    QVERIFY(decideInfection(plain).infected);
    QVERIFY2(spread.explanation().contains(QStringLiteral("spread between its fields counted "
                                                          "(design effect 4.0)")),
             qPrintable(spread.explanation()));
    QCOMPARE(spread.toJson().value(QStringLiteral("count_design_effect")).toDouble(), 4.0);
    for (double notOne : {0.5, 1.0, std::nan(""), -3.0}) {
        const PrevalenceEstimate same = estimatePrevalence(60, 2000, r, notOne);
        QCOMPARE(same.low, plain.low);
        QCOMPARE(same.high, plain.high);
        QVERIFY(!same.explanation().contains(QStringLiteral("spread between its fields")));
    }
}

void TestPrevalence::designEffectMatchesHandWorkedCases()
{
    // Two fields of 100 detections, 0 and 10 called: p = 0.05, the squared deviations
    // (0 - 5)^2 + (10 - 5)^2 = 50, between-field variance 2/1 * 50 / 200^2 = 0.0025, binomial
    // 0.05 * 0.95 / 200 = 0.0002375: design effect 10.526.
    QVERIFY(std::abs(designEffect({{0, 100}, {10, 100}}) - 0.0025 / 0.0002375) < 1e-9);
    // Three fields of 50, 100, 50 with 1, 2, 1 called: every field at the pooled rate, no
    // spread beyond chance is claimed: 1, never less.
    QCOMPARE(designEffect({{1, 50}, {2, 100}, {1, 50}}), 1.0);
    // One field with trials, or none called, or all: nothing to measure, 1.
    QCOMPARE(designEffect({{3, 100}, {0, 0}}), 1.0);
    QCOMPARE(designEffect({{0, 100}, {0, 80}}), 1.0);
    QCOMPARE(designEffect({{100, 100}, {80, 80}}), 1.0);
    QCOMPARE(designEffect({}), 1.0);
}

void TestPrevalence::designEffectWidensTheInterval()
{
    // Sp from 2000 cells in fields whose rates spread 4 times a binomial's: the interval is
    // the one of 500 independent cells, and the point estimate does not move.
    ErrorRates clustered = rates(0.9, 1000, 0.95, 2000);
    clustered.negativesDesignEffect = 4.0;
    const PrevalenceEstimate wide = estimatePrevalence(140, 1000, clustered);
    const PrevalenceEstimate independent =
        estimatePrevalence(140, 1000, rates(0.9, 1000, 0.95, 500));
    const PrevalenceEstimate plain = estimatePrevalence(140, 1000, rates(0.9, 1000, 0.95, 2000));
    QVERIFY(wide.ok && independent.ok && plain.ok);
    QCOMPARE(wide.corrected, plain.corrected);
    QVERIFY(std::abs(wide.low - independent.low) < 1e-12);
    QVERIFY(std::abs(wide.high - independent.high) < 1e-12);
    QVERIFY(wide.high - wide.low > plain.high - plain.low);
    QVERIFY2(wide.ratesSource.contains(QStringLiteral("specificity 4.0")),
             qPrintable(wide.ratesSource));
    QVERIFY(!plain.ratesSource.contains(QStringLiteral("design effect")));
    // The same for Se.
    clustered = rates(0.9, 1000, 0.95, 2000);
    clustered.positivesDesignEffect = 10.0;
    const PrevalenceEstimate wideSe = estimatePrevalence(140, 1000, clustered);
    const PrevalenceEstimate fewSe = estimatePrevalence(140, 1000, rates(0.9, 100, 0.95, 2000));
    QVERIFY(std::abs(wideSe.low - fewSe.low) < 1e-12 && std::abs(wideSe.high - fewSe.high) < 1e-12);
}

void TestPrevalence::designEffectsAreReadFromTheCard()
{
    const QJsonObject onFields{{QStringLiteral("source"), QStringLiteral("iml")},
                               {QStringLiteral("fields"), 30},
                               {QStringLiteral("true_positive"), 34},
                               {QStringLiteral("false_negative"), 7},
                               {QStringLiteral("true_negative"), 3217},
                               {QStringLiteral("false_positive"), 59},
                               {QStringLiteral("design_effect_sensitivity"), 1.3},
                               {QStringLiteral("design_effect_specificity"), 4.2}};
    QJsonObject card{{QStringLiteral("threshold"), 0.5},
                     {QStringLiteral("validation_on_fields"), QJsonArray{onFields}}};
    const auto fields = errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields);
    QVERIFY(fields);
    QCOMPARE(fields->positivesDesignEffect, 1.3);
    QCOMPARE(fields->negativesDesignEffect, 4.2);
    // A lab calibration's, and a value under 1 is read as 1 (no more certain than a binomial).
    card.insert(QStringLiteral("lab_calibration"),
                QJsonObject{{QStringLiteral("sensitivity"), 0.8},
                            {QStringLiteral("specificity"), 0.99},
                            {QStringLiteral("positives"), 50},
                            {QStringLiteral("negatives"), 900},
                            {QStringLiteral("design_effect_sensitivity"), 0.5},
                            {QStringLiteral("design_effect_specificity"), 2.5}});
    const auto lab = errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields);
    QVERIFY(lab);
    QCOMPARE(lab->positivesDesignEffect, 1.0);
    QCOMPARE(lab->negativesDesignEffect, 2.5);
    // Cards written before the design effects: independent cells, as before.
    card.remove(QStringLiteral("lab_calibration"));
    card.insert(QStringLiteral("validation_on_fields"),
                QJsonArray{QJsonObject{{QStringLiteral("source"), QStringLiteral("iml")},
                                       {QStringLiteral("true_positive"), 34},
                                       {QStringLiteral("false_negative"), 7},
                                       {QStringLiteral("true_negative"), 3217},
                                       {QStringLiteral("false_positive"), 59}}});
    const auto old = errorRatesFromCard(card, nullptr, QStringLiteral("iml"), RatesFor::Fields);
    QVERIFY(old);
    QCOMPARE(old->negativesDesignEffect, 1.0);
}

void TestPrevalence::cardWithoutValidationFigures()
{
    QString error;
    QVERIFY(!errorRatesFromCard(QJsonObject{{QStringLiteral("architecture"), QStringLiteral("se")}},
                                &error));
    QVERIFY(error.contains(QStringLiteral("no validation figures")));
}

void TestPrevalence::ratesAtAnotherThresholdAreNotUsed()
{
    const QJsonObject card{{QStringLiteral("threshold"), 0.5},
                           {QStringLiteral("validation"),
                            QJsonObject{{QStringLiteral("cell_level"),
                                         QJsonObject{{QStringLiteral("true_positive"), 90},
                                                     {QStringLiteral("false_negative"), 10},
                                                     {QStringLiteral("true_negative"), 190},
                                                     {QStringLiteral("false_positive"), 10}}}}}};
    QString error;
    QVERIFY(errorRatesAt(card, 0.5, &error));
    QVERIFY(!errorRatesAt(card, 0.3, &error));
    QVERIFY2(error.contains(QStringLiteral("threshold 0.5, not 0.3")), qPrintable(error));
    // Without rates: the apparent share only, the reason as the error, never NaN.
    const PrevalenceEstimate e = estimateOrExplain(7, 70, std::nullopt, error);
    QVERIFY(!e.ok);
    QCOMPARE(e.apparent, 0.1);
    QCOMPARE(e.error, error);
    const PrevalenceEstimate z = estimateOrExplain(0, 0, std::nullopt, error);
    QCOMPARE(z.apparent, 0.0);
    // With rates: the estimator itself.
    const auto rates = errorRatesAt(card, 0.5);
    QCOMPARE(estimateOrExplain(7, 70, rates, {}).corrected,
             estimatePrevalence(7, 70, *rates).corrected);
}

void TestPrevalence::decisionFromIntervalAndConfirmation()
{
    const ErrorRates r = rates(0.9646, 1102, 0.9665, 1732);
    // 3 of 67 cells: within a 3.35 % false-positive rate (2.2 expected).
    const PrevalenceEstimate low = estimatePrevalence(3, 67, r);
    QVERIFY(low.ok);
    QVERIFY(!decideInfection(low).infected);
    QVERIFY(decideInfection(low).decided);
    // A reviewer's confirmed parasite overrides the estimate.
    const InfectionDecision confirmed = decideInfection(low, 1);
    QVERIFY(confirmed.infected);
    QVERIFY(confirmed.reason.contains(QStringLiteral("confirmed")));
    // 30 of 100 cells is far more than false positives explain.
    QVERIFY(decideInfection(estimatePrevalence(30, 100, r)).infected);
}

void TestPrevalence::jsonKeys()
{
    const PrevalenceEstimate e = estimatePrevalence(140, 1000, rates(0.9, 1000, 0.95, 2000));
    const QJsonObject j = e.toJson();
    QCOMPARE(j.value(QStringLiteral("parasitemia_apparent")).toDouble(), 0.14);
    QCOMPARE(j.value(QStringLiteral("parasitemia_corrected")).toDouble(), e.corrected);
    const QJsonArray ci = j.value(QStringLiteral("parasitemia_corrected_ci95")).toArray();
    QCOMPARE(ci.size(), 2);
    QCOMPARE(ci.at(0).toDouble(), e.low);
    QCOMPARE(ci.at(1).toDouble(), e.high);
}

QTEST_GUILESS_MAIN(TestPrevalence)
#include "tst_prevalence.moc"
