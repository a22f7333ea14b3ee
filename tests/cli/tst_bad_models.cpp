// SPDX-License-Identifier: MIT
// The bad model corpus (tests/badmodels/make_bad_models.py) through the `sida` executable: for
// every broken folder, `sida info` (except for faults in experts' bytes, which are read when first
// needed) and `sida classify --policy standard` (every expert read) exit with status 1 and the
// error the manifest names, within a time limit, and never crash. The script runs into a temporary folder,
// so the corpus always matches the current fixtures.
#include "test_support.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

namespace {

// Loading the tiny fixture takes seconds, and more under a sanitizer; a minute means a hang.
constexpr int kTimeLimitMs = 60'000;

struct Outcome {
    bool started = false;
    bool finished = false; ///< false: killed at the time limit
    bool crashed = false;  ///< ended by a signal
    int exitCode = -1;
    QString standardOutput, standardError;
    qint64 milliseconds = 0;
};

Outcome run(const QString& program, const QStringList& arguments) {
    Outcome outcome;
    QProcess process;
    QElapsedTimer timer;
    timer.start();
    process.start(program, arguments);
    outcome.started = process.waitForStarted(10'000);
    if (!outcome.started) return outcome;
    process.closeWriteChannel();
    outcome.finished = process.waitForFinished(kTimeLimitMs);
    if (!outcome.finished) {
        process.kill();
        process.waitForFinished();
    }
    outcome.milliseconds = timer.elapsed();
    outcome.crashed = process.exitStatus() == QProcess::CrashExit;
    outcome.exitCode = process.exitCode();
    outcome.standardOutput = QString::fromUtf8(process.readAllStandardOutput());
    outcome.standardError = QString::fromUtf8(process.readAllStandardError());
    return outcome;
}

// "" when the command was refused as it should be, otherwise what went wrong. A refused model
// is reported on stderr; a classification that failed, in its result line on stdout.
QString refusalProblem(const Outcome& o, const QString& expected) {
    if (!o.started) return QStringLiteral("did not start");
    if (!o.finished) return QStringLiteral("still running after %1 s (a hang?)").arg(kTimeLimitMs / 1000);
    if (o.crashed) return QStringLiteral("crashed:\n") + o.standardError;
    if (o.exitCode != 1)
        return QStringLiteral("exit status %1 instead of 1:\n%2").arg(o.exitCode).arg(o.standardError);
    if (!o.standardError.contains(expected) && !o.standardOutput.contains(expected))
        return QStringLiteral("the output lacks '%1':\n%2%3")
            .arg(expected, o.standardOutput, o.standardError);
    return {};
}

} // namespace

class BadModelsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void info_data() { rows(); }
    void info();
    void classify_data() { rows(); }
    void classify();

private:
    void rows();
    QTemporaryDir corpus_;
    QJsonArray models_;
};

void BadModelsTest::initTestCase() {
    QVERIFY(corpus_.isValid());
    const QString python = QStandardPaths::findExecutable(QStringLiteral("python3"));
    if (python.isEmpty()) QSKIP("python3 is not on PATH; the bad model corpus cannot be made");
    const Outcome made = run(python, {QStringLiteral(SIDA_BAD_MODELS_SCRIPT), corpus_.path()});
    QVERIFY2(made.finished && !made.crashed && made.exitCode == 0, qPrintable(made.standardError));

    QFile manifest(corpus_.filePath(QStringLiteral("manifest.json")));
    QVERIFY(manifest.open(QIODevice::ReadOnly));
    const QJsonObject root = QJsonDocument::fromJson(manifest.readAll()).object();
    QCOMPARE(root.value(QStringLiteral("version")).toInt(), 1);
    models_ = root.value(QStringLiteral("models")).toArray();
    QVERIFY2(models_.size() >= 30, "the corpus lost folders");
}

void BadModelsTest::rows() {
    QTest::addColumn<QString>("folder");
    QTest::addColumn<QString>("error");
    QTest::addColumn<bool>("infoRefuses");
    for (const QJsonValue& value : models_) {
        const QJsonObject model = value.toObject();
        const QString folder = model.value(QStringLiteral("folder")).toString();
        QTest::newRow(qPrintable(folder))
            << corpus_.filePath(folder) << model.value(QStringLiteral("error")).toString()
            << model.value(QStringLiteral("info_refuses")).toBool(true);
    }
}

void BadModelsTest::info() {
    QFETCH(QString, folder);
    QFETCH(QString, error);
    QFETCH(bool, infoRefuses);
    const Outcome o = run(QStringLiteral(SIDA_CLI_PATH), {QStringLiteral("info"), folder});
    if (!infoRefuses) {
        QVERIFY2(o.finished && !o.crashed && o.exitCode == 0, qPrintable(o.standardError));
        return;
    }
    const QString problem = refusalProblem(o, error);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

// --model rather than a leading folder argument: `sida classify FOLDER TEXT` takes FOLDER for a
// text unless it holds a config.json, and one of the folders has none.
void BadModelsTest::classify() {
    QFETCH(QString, folder);
    QFETCH(QString, error);
    const Outcome o =
        run(QStringLiteral(SIDA_CLI_PATH),
            {QStringLiteral("classify"), QStringLiteral("--model"), folder, QStringLiteral("--policy"),
             QStringLiteral("standard"), QStringLiteral("a fine film")});
    const QString problem = refusalProblem(o, error);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

QTEST_GUILESS_MAIN(BadModelsTest)
#include "tst_bad_models.moc"
