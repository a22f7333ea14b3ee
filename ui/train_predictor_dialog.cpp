// SPDX-License-Identifier: MIT
#include "train_predictor_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

namespace sida::ui {

TrainPredictorDialog::TrainPredictorDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Train the SiDA predictor"));
    const PredictorTrainOptions defaults;
    auto* intro =
        new QLabel(tr("The predictor learns, from token embeddings alone, which expert each MoE layer's "
                      "router will choose (truncated knowledge distillation). Give it text from the "
                      "task the model serves; it trains in the background and is saved beside the "
                      "model, which is then loaded again."),
                   this);
    intro->setWordWrap(true);
    m_train = fileField(tr("Training data"));
    m_dev = fileField(tr("Dev data"));
    m_epochs = new QSpinBox(this);
    m_epochs->setRange(1, 500);
    m_epochs->setValue(defaults.epochs);
    m_epochs->setToolTip(tr("Training stops earlier when the dev hit rate stops improving"));
    m_hidden = new QSpinBox(this);
    m_hidden->setRange(16, 2048);
    m_hidden->setValue(static_cast<int>(defaults.architecture.hidden));
    m_lstmLayers = new QSpinBox(this);
    m_lstmLayers->setRange(1, 8);
    m_lstmLayers->setValue(static_cast<int>(defaults.architecture.lstmLayers));
    m_maxLength = new QSpinBox(this);
    m_maxLength->setRange(8, 4096);
    m_maxLength->setValue(static_cast<int>(defaults.maxLength));
    m_problem = new QLabel(this);
    m_problem->setWordWrap(true);

    auto* form = new QFormLayout;
    form->addRow(tr("&Training data:"), m_train->parentWidget());
    form->addRow(tr("&Dev data:"), m_dev->parentWidget());
    form->addRow(tr("&Epochs (at most):"), m_epochs);
    form->addRow(tr("&Hidden width:"), m_hidden);
    form->addRow(tr("&LSTM layers:"), m_lstmLayers);
    form->addRow(tr("&Max tokens:"), m_maxLength);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Train"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_train, &QLineEdit::textChanged, this, &TrainPredictorDialog::validateInputs);
    connect(m_dev, &QLineEdit::textChanged, this, &TrainPredictorDialog::validateInputs);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addLayout(form);
    layout->addWidget(m_problem);
    layout->addWidget(buttons);
    validateInputs();
    resize(560, sizeHint().height());
}

QLineEdit* TrainPredictorDialog::fileField(const QString& caption) {
    auto* row = new QWidget(this);
    auto* edit = new QLineEdit(row);
    edit->setPlaceholderText(tr("a TSV, CSV or TXT file"));
    auto* browse = new QToolButton(row);
    browse->setText(tr("…"));
    browse->setToolTip(tr("Choose the file"));
    connect(browse, &QToolButton::clicked, this, [this, edit, caption] {
        const QString path = QFileDialog::getOpenFileName(
            this, caption, edit->text(), tr("Data files (*.tsv *.csv *.txt);;All files (*)"));
        if (!path.isEmpty()) edit->setText(path);
    });
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit, 1);
    layout->addWidget(browse);
    return edit;
}

void TrainPredictorDialog::validateInputs() {
    QString problem;
    for (QLineEdit* field : {m_train, m_dev}) {
        const QString path = field->text().trimmed();
        if (path.isEmpty())
            problem = tr("Choose the training and dev data.");
        else if (!QFileInfo(path).isFile())
            problem = tr("%1 is not a readable file.").arg(path);
        if (!problem.isEmpty()) break;
    }
    m_problem->setText(problem);
    if (auto* buttons = findChild<QDialogButtonBox*>())
        buttons->button(QDialogButtonBox::Ok)->setEnabled(problem.isEmpty());
}

PredictorTrainOptions TrainPredictorDialog::options() const {
    PredictorTrainOptions options;
    options.trainData = m_train->text().trimmed().toStdString();
    options.devData = m_dev->text().trimmed().toStdString();
    options.epochs = m_epochs->value();
    options.architecture.hidden = m_hidden->value();
    options.architecture.lstmLayers = m_lstmLayers->value();
    options.maxLength = m_maxLength->value();
    // Text files from a task often lack labels; the predictor only needs the text.
    options.dataOptions.requireLabels = false;
    return options;
}

} // namespace sida::ui
