// SPDX-License-Identifier: MIT
// The sparsity lesson (teaching mode): runs a data set through the model and plots, beside short
// explanations, why SiDA works: most experts sit idle for any one sentence (the paper's Fig. 4), so
// most expert memory is wasted when all of it is resident (Fig. 2), and use is spread over experts.
#pragma once

#include "engine_types.h"
#include "results_model.h"
#include "sparsity_stats.h"

#include <QList>
#include <QWidget>

class QComboBox;
class QCustomPlot;
class QCPBars;
class QLabel;
class QProgressBar;
class QPushButton;

namespace sida::ui {

class EngineController;
class ExperimentRunner;

class SparsityView : public QWidget {
    Q_OBJECT

public:
    SparsityView(EngineController* controller, QWidget* parent = nullptr);

    /// What "Run lesson" uses until the user picks a file.
    void setSampleInputs(const QList<InputText>& inputs);
    void reset(const ModelInfo& info);
    /// Runs the inputs under the standard policy (every router decides) and fills the plots.
    bool startLesson(const QList<InputText>& inputs, QString* error = nullptr);
    bool isRunning() const;
    void cancel();
    const SparsityStats& stats() const { return m_stats; }

Q_SIGNALS:
    void lessonStarted();
    void lessonFinished();
    void message(const QString& text);

protected:
    void changeEvent(QEvent* event) override;

private:
    void chooseFile();
    void runSamples();
    void redraw();
    void redrawUsage();
    void applyPalette();
    QWidget* explainedPlot(QCustomPlot* plot, QLabel* text);

    EngineController* m_controller;
    ExperimentRunner* m_runner;
    QList<InputText> m_samples;
    SparsityStats m_stats;
    double m_expertBytes = 0.0;
    double m_totalExpertBytes = 0.0;
    QLabel* m_status;
    QProgressBar* m_progress;
    QPushButton* m_runButton;
    QPushButton* m_fileButton;
    QPushButton* m_cancelButton;
    QCustomPlot* m_idlePlot;
    QCustomPlot* m_usePlot;
    QCustomPlot* m_histogramPlot;
    QCPBars* m_histogram;
    QComboBox* m_histogramLayer;
    QLabel* m_idleText;
    QLabel* m_useText;
    QLabel* m_histogramText;
};

} // namespace sida::ui
