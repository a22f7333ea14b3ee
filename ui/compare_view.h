// SPDX-License-Identifier: MIT
// Compare: the same inputs under two or more policies, one after the other, with throughput, latency,
// expert memory and accuracy side by side and the live plots of the runs overlaid.
#pragma once

#include "engine_types.h"
#include "results_model.h"

#include <QList>
#include <QMap>
#include <QWidget>

#include <functional>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QPushButton;
class QTableWidget;

namespace sida::ui {

class EngineController;
class ExperimentRunner;

class CompareView : public QWidget {
    Q_OBJECT

public:
    CompareView(EngineController* controller, QWidget* parent = nullptr);

    void setSampleInputs(const QList<InputText>& inputs);
    /// Where "the text box" option takes its inputs from.
    void setTextInputSource(std::function<QList<InputText>()> source);
    void reset(const ModelInfo& info);
    /// Runs `inputs` under each policy in turn, with the current settings otherwise.
    bool startComparison(const QList<Policy>& policies, const QList<InputText>& inputs,
                         QString* error = nullptr);
    bool isRunning() const;
    void cancel();
    const ExperimentRunner& runner() const { return *m_runner; }
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    void comparisonStarted();
    void comparisonFinished();
    void message(const QString& text);

protected:
    void changeEvent(QEvent* event) override;

private:
    void start();
    void fillTable();
    void redrawPlots();
    void applyPalette();
    QList<Policy> checkedPolicies() const;

    EngineController* m_controller;
    ExperimentRunner* m_runner;
    QList<InputText> m_samples;
    std::function<QList<InputText>()> m_textInputs;
    QMap<Policy, QCheckBox*> m_policyBoxes;
    QComboBox* m_source;
    QPushButton* m_runButton;
    QPushButton* m_cancelButton;
    QLabel* m_status;
    QTableWidget* m_table;
    QCustomPlot* m_throughputPlot;
    QCustomPlot* m_memoryPlot;
};

} // namespace sida::ui
