// SPDX-License-Identifier: MIT
// The Model page: the loaded model's card (architecture, parameters, experts, dtype, predictor and its
// hit rate, training recipe), the device picker, loading progress with cancel, and "Train predictor"
// for a model that has none.
#pragma once

#include "engine_types.h"

#include <QString>
#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QTextBrowser;

namespace sida::ui {

class EngineController;

/// The model card as HTML (a free function, so its content is tested without a window).
QString modelCardHtml(const ModelInfo& info);
/// training.json's text, indented for reading; the text as is when it is not JSON.
QString prettyTrainingRecord(const std::string& record);
/// "cuda:0 — NVIDIA H200, 120.3 GiB free of 139.8 GiB".
QString deviceLabel(const DeviceDescription& device);

class ModelPage : public QWidget {
    Q_OBJECT

public:
    ModelPage(EngineController* controller, QWidget* parent = nullptr);

    /// The device the user picked ("auto" until the list has arrived).
    QString selectedDevice() const;
    void setPreferredDevice(const QString& device);
    QTextBrowser* card() const { return m_card; }

Q_SIGNALS:
    void openRequested();
    void deviceChosen(const QString& device);
    void trainRequested();

private:
    void onLoadStarted(const QString& dir);
    void onLoadProgress(const QString& stage, qint64 done, qint64 total);
    void onModelLoaded(const ModelInfo& info);
    void onLoadEnded();
    void onDevicesListed(const std::vector<DeviceDescription>& devices);
    void onTrainingStarted(const QString& what);
    void onTrainingProgress(const QString& stage, qint64 done, qint64 total, const QString& detail);
    void onTrainingEnded(const QString& message);

    EngineController* m_controller;
    QString m_preferredDevice = QStringLiteral("auto");
    QLabel* m_title;
    QComboBox* m_device;
    QPushButton* m_openButton;
    QWidget* m_loadRow;
    QLabel* m_loadStage;
    QProgressBar* m_loadProgress;
    QTextBrowser* m_card;
    QLabel* m_predictorState;
    QPushButton* m_trainButton;
    QWidget* m_trainRow;
    QProgressBar* m_trainProgress;
    QPlainTextEdit* m_trainLog;
    QPlainTextEdit* m_recipe;
};

} // namespace sida::ui
