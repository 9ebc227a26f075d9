#include "patientid.h"

#include <QTest>

class TestPatientId : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parses_data();
    void parses();
};

void TestPatientId::parses_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("patient");
    QTest::newRow("infected") << "C33P1thinF_IMG_20150619_114756a_cell_179.png"
                              << "C33P1";
    QTest::newRow("healthy") << "C1_thinF_IMG_20150604_104722_cell_9.png"
                             << "C1";
    QTest::newRow("capital ThinF") << "C101P62ThinF_IMG_20150918_151006_cell_61.png"
                                   << "C101P62";
    QTest::newRow("letter after C number") << "C37BP2_thinF_IMG_20150620_131423a_cell_92.png"
                                           << "C37BP2";
    QTest::newRow("healthy three digits") << "C238NThinF_IMG_20151207_114038_cell_50.png"
                                          << "C238";
    QTest::newRow("not NIH") << "cell_0001.png"
                             << "";
    QTest::newRow("C without digits") << "Cthin_IMG.png"
                                      << "";
    QTest::newRow("inside the name") << "xC33P1thinF.png"
                                     << "";
}

void TestPatientId::parses()
{
    QFETCH(QString, name);
    QFETCH(QString, patient);
    QCOMPARE(ml::patientIdFromFileName(name), patient);
}

QTEST_GUILESS_MAIN(TestPatientId)
#include "tst_patientid.moc"
