// SPDX-License-Identifier: MIT
// Settings: serving (policy, top-k, expert budget, batch size, hash queue depth, shadow router,
// eviction), engine (CPU threads) and appearance (theme). Serving changes apply from the next batch.
#pragma once

#include "studio_settings.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QLabel;
class QSpinBox;

namespace sida::ui {

class SettingsDialog : public QDialog {
    Q_OBJECT

public:
    /// `maxTopK`: the model's experts per layer (0 when no model is loaded); `hasPredictor` greys out
    /// the SiDA policies when false.
    SettingsDialog(const StudioSettings& settings, int maxTopK, bool hasPredictor, QWidget* parent = nullptr);
    StudioSettings settings() const;

Q_SIGNALS:
    /// Apply was pressed (OK applies too, then closes).
    void applied(const sida::ui::StudioSettings& settings);

private:
    void explainPolicy();
    /// Sets the serving fields to the paper's setup (paperPreset), for the user to apply.
    void usePaperSetup();
    /// Parses both budget fields; shows the engine's message under them when one is wrong.
    bool budgetsValid();

    StudioSettings m_settings;
    QComboBox* m_policy;
    QLabel* m_policyHelp;
    QSpinBox* m_topK;
    QLineEdit* m_budget;
    QLineEdit* m_hostBudget;
    QComboBox* m_dtype;
    QLabel* m_budgetError;
    QSpinBox* m_batch;
    QSpinBox* m_queueDepth;
    QCheckBox* m_shadowRouter;
    QCheckBox* m_cacheAcrossBatches;
    QComboBox* m_eviction;
    QSpinBox* m_threads;
    QComboBox* m_theme;
};

} // namespace sida::ui
