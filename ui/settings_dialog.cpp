// SPDX-License-Identifier: MIT
#include "settings_dialog.h"

#include "engine_types.h"

#include "sida/errors.h"
#include "sida/memory.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QThread>
#include <QVBoxLayout>

namespace sida::ui {

SettingsDialog::SettingsDialog(const StudioSettings& settings, int maxTopK, bool hasPredictor,
                               QWidget* parent)
    : QDialog(parent), m_settings(settings) {
    setWindowTitle(tr("Settings"));
    const PipelineOptions& p = settings.pipeline;

    m_policy = new QComboBox(this);
    for (Policy policy : allPolicies()) {
        m_policy->addItem(policyTitle(policy), static_cast<int>(policy));
        const int index = m_policy->count() - 1;
        m_policy->setItemData(index, policyExplanation(policy), Qt::ToolTipRole);
        if (policyNeedsPredictor(policy) && !hasPredictor) {
            // Visible but not choosable, so the user learns the option exists and what it needs.
            auto* model = qobject_cast<QStandardItemModel*>(m_policy->model());
            model->item(index)->setEnabled(false);
            m_policy->setItemData(index, tr("Needs the model's predictor"), Qt::ToolTipRole);
        }
    }
    m_policy->setCurrentIndex(m_policy->findData(static_cast<int>(p.policy)));
    m_policyHelp = new QLabel(this);
    m_policyHelp->setWordWrap(true);
    m_policyHelp->setForegroundRole(QPalette::PlaceholderText);
    connect(m_policy, &QComboBox::currentIndexChanged, this, &SettingsDialog::explainPolicy);

    m_topK = new QSpinBox(this);
    m_topK->setRange(1, maxTopK > 0 ? maxTopK : 256);
    m_topK->setValue(p.topK);
    m_topK->setToolTip(tr("Experts per token the hash table holds; with SiDA all of them run, weighted"));
    const QString budgetSyntax = tr("auto, a share (50%, 0.5) or a size (2GiB, 512MiB). %1.")
                                     .arg(QString::fromStdString(automaticBudgetRule()));
    m_budget = new QLineEdit(QString::fromStdString(budgetText(p.deviceBudget)), this);
    m_budget->setToolTip(tr("The device pool: GPU memory, or the RAM pool on the CPU; a share of every "
                            "expert in the compute dtype. Standard always keeps every expert. ") +
                         budgetSyntax);
    m_hostBudget = new QLineEdit(QString::fromStdString(budgetText(p.hostBudget)), this);
    m_hostBudget->setToolTip(tr("The host cache of experts read from disk (RAM, pinned with CUDA); a share "
                                "of every expert's bytes on disk. ") +
                             budgetSyntax);
    m_budgetError = new QLabel(this);
    m_budgetError->setWordWrap(true);
    m_budgetError->setStyleSheet(QStringLiteral("color: #c62828"));
    m_budgetError->hide();
    m_dtype = new QComboBox(this);
    m_dtype->addItem(tr("float32"), QStringLiteral("float32"));
    m_dtype->addItem(tr("bfloat16 (half the memory; a copy from a bf16 checkpoint is a plain copy)"),
                     QStringLiteral("bfloat16"));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(settings.dtype)));
    m_batch = new QSpinBox(this);
    m_batch->setRange(1, 4096);
    m_batch->setValue(p.batchSize);
    m_queueDepth = new QSpinBox(this);
    m_queueDepth->setRange(0, 1024);
    m_queueDepth->setSpecialValueText(tr("automatic (16 inputs ahead, at least 4)"));
    m_queueDepth->setValue(p.hashQueueDepth);
    m_queueDepth->setToolTip(tr("How many hash tables the hash thread may build ahead of inference"));
    m_shadowRouter =
        new QCheckBox(tr("Run the routers beside the hash table to record hits and misses"), this);
    m_shadowRouter->setChecked(p.shadowRouter);
    m_cacheAcrossBatches =
        new QCheckBox(tr("Keep experts cached across batches (off: the paper's minimal memory)"), this);
    m_cacheAcrossBatches->setChecked(p.cacheAcrossBatches);
    m_eviction = new QComboBox(this);
    m_eviction->addItem(tr("least recently used"), static_cast<int>(Eviction::Lru));
    m_eviction->addItem(tr("first in, first out"), static_cast<int>(Eviction::Fifo));
    m_eviction->addItem(tr("plain first in, first out (the paper's)"), static_cast<int>(Eviction::PlainFifo));
    m_eviction->setToolTip(tr("LRU and FIFO first keep what the queued batches need, soonest first, and "
                              "only then go by age; plain FIFO is blind to the queue"));
    m_eviction->setCurrentIndex(m_eviction->findData(static_cast<int>(p.eviction)));
    m_threads = new QSpinBox(this);
    m_threads->setRange(0, 1024);
    m_threads->setSpecialValueText(tr("one per core (%1)").arg(QThread::idealThreadCount()));
    m_threads->setValue(settings.threads);
    m_threads->setToolTip(tr("CPU threads for LibTorch; applies when a model is loaded"));
    m_theme = new QComboBox(this);
    m_theme->addItem(tr("Follow the system"), static_cast<int>(Theme::System));
    m_theme->addItem(tr("Light"), static_cast<int>(Theme::Light));
    m_theme->addItem(tr("Dark"), static_cast<int>(Theme::Dark));
    m_theme->setCurrentIndex(m_theme->findData(static_cast<int>(settings.theme)));

    auto* serving = new QGroupBox(tr("Serving (applies from the next batch)"), this);
    auto* servingForm = new QFormLayout(serving);
    servingForm->addRow(tr("&Policy:"), m_policy);
    servingForm->addRow(QString(), m_policyHelp);
    servingForm->addRow(tr("&Top-k:"), m_topK);
    servingForm->addRow(tr("Device &pool budget:"), m_budget);
    servingForm->addRow(tr("&Host cache budget:"), m_hostBudget);
    servingForm->addRow(QString(), m_budgetError);
    servingForm->addRow(tr("&Eviction:"), m_eviction);
    servingForm->addRow(QString(), m_cacheAcrossBatches);
    servingForm->addRow(tr("&Batch size:"), m_batch);
    servingForm->addRow(tr("Hash &queue depth:"), m_queueDepth);
    servingForm->addRow(tr("&Shadow router:"), m_shadowRouter);
    auto* paper = new QPushButton(tr("Use the paper's &setup"), this);
    paper->setToolTip(tr("sida with plain FIFO eviction, no caching across batches and no shadow router "
                         "(no router runs), as in Du et al., MLSys 2024"));
    paper->setEnabled(hasPredictor);
    connect(paper, &QPushButton::clicked, this, &SettingsDialog::usePaperSetup);
    servingForm->addRow(QString(), paper);
    auto* engine = new QGroupBox(tr("Engine (applies when a model is loaded)"), this);
    auto* engineForm = new QFormLayout(engine);
    engineForm->addRow(tr("CPU &threads:"), m_threads);
    engineForm->addRow(tr("Compute &dtype:"), m_dtype);
    auto* appearance = new QGroupBox(tr("Appearance"), this);
    auto* appearanceForm = new QFormLayout(appearance);
    appearanceForm->addRow(tr("T&heme:"), m_theme);

    auto* buttons =
        new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Apply | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        if (!budgetsValid()) return;
        Q_EMIT applied(this->settings());
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(buttons->button(QDialogButtonBox::Apply), &QPushButton::clicked, this, [this] {
        if (budgetsValid()) Q_EMIT applied(this->settings());
    });

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(serving);
    layout->addWidget(engine);
    layout->addWidget(appearance);
    layout->addWidget(buttons);
    explainPolicy();
}

void SettingsDialog::usePaperSetup() {
    const PipelineOptions paper = paperPreset();
    m_policy->setCurrentIndex(m_policy->findData(static_cast<int>(paper.policy)));
    m_eviction->setCurrentIndex(m_eviction->findData(static_cast<int>(paper.eviction)));
    m_cacheAcrossBatches->setChecked(paper.cacheAcrossBatches);
    m_shadowRouter->setChecked(paper.shadowRouter);
}

void SettingsDialog::explainPolicy() {
    m_policyHelp->setText(policyExplanation(static_cast<Policy>(m_policy->currentData().toInt())));
}

bool SettingsDialog::budgetsValid() {
    try {
        parseBudget(m_budget->text().toStdString(), tr("Device pool budget").toStdString());
        parseBudget(m_hostBudget->text().toStdString(), tr("Host cache budget").toStdString());
    } catch (const Error& error) {
        m_budgetError->setText(QString::fromStdString(error.what()));
        m_budgetError->show();
        return false;
    }
    m_budgetError->hide();
    return true;
}

namespace {

// Fields that do not parse keep the settings' previous budget (the buttons refuse them first).
Budget budgetOr(const QLineEdit* field, const Budget& previous) {
    try {
        return parseBudget(field->text().toStdString(), "budget");
    } catch (const Error&) {
        return previous;
    }
}

} // namespace

StudioSettings SettingsDialog::settings() const {
    StudioSettings s = m_settings;
    s.pipeline.policy = static_cast<Policy>(m_policy->currentData().toInt());
    s.pipeline.topK = m_topK->value();
    s.pipeline.deviceBudget = budgetOr(m_budget, m_settings.pipeline.deviceBudget);
    s.pipeline.hostBudget = budgetOr(m_hostBudget, m_settings.pipeline.hostBudget);
    s.pipeline.batchSize = m_batch->value();
    s.pipeline.hashQueueDepth = m_queueDepth->value();
    s.pipeline.shadowRouter = m_shadowRouter->isChecked();
    s.pipeline.cacheAcrossBatches = m_cacheAcrossBatches->isChecked();
    s.pipeline.eviction = static_cast<Eviction>(m_eviction->currentData().toInt());
    s.threads = m_threads->value();
    s.dtype = m_dtype->currentData().toString();
    s.theme = static_cast<Theme>(m_theme->currentData().toInt());
    return s;
}

} // namespace sida::ui
