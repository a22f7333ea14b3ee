// SPDX-License-Identifier: MIT
// Asks what to train the SiDA predictor on (training and dev data) and the few settings worth
// changing; the rest is the paper's recipe (sida::PredictorTrainOptions defaults).
#pragma once

#include "sida/predictor.h"

#include <QDialog>

class QLineEdit;
class QSpinBox;
class QLabel;

namespace sida::ui {

class TrainPredictorDialog : public QDialog {
    Q_OBJECT

public:
    explicit TrainPredictorDialog(QWidget* parent = nullptr);
    PredictorTrainOptions options() const;

private:
    QLineEdit* fileField(const QString& caption);
    void validateInputs();

    QLineEdit* m_train;
    QLineEdit* m_dev;
    QSpinBox* m_epochs;
    QSpinBox* m_hidden;
    QSpinBox* m_lstmLayers;
    QSpinBox* m_maxLength;
    QLabel* m_problem;
};

} // namespace sida::ui
