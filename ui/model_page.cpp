// SPDX-License-Identifier: MIT
#include "model_page.h"

#include "engine_controller.h"

#include <QComboBox>
#include <QFileInfo>
#include <QFontDatabase>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace sida::ui {

namespace {

QString row(const QString& name, const QString& value) {
    return QStringLiteral("<tr><td style='padding-right:16px'><b>%1</b></td><td>%2</td></tr>")
        .arg(name, value);
}

QString count(int64_t n) { return QLocale().toString(static_cast<qlonglong>(n)); }

} // namespace

QString deviceLabel(const DeviceDescription& d) {
    if (!d.isCuda) return QStringLiteral("%1 — %2").arg(qs(d.id), qs(d.name));
    return QStringLiteral("%1 — %2, %3 free of %4")
        .arg(qs(d.id), qs(d.name), formatBytes(static_cast<double>(d.freeBytes)),
             formatBytes(static_cast<double>(d.totalBytes)));
}

QString prettyTrainingRecord(const std::string& record) {
    const QByteArray bytes = QByteArray::fromStdString(record);
    const QJsonDocument document = QJsonDocument::fromJson(bytes);
    if (document.isNull()) return QString::fromUtf8(bytes);
    return QString::fromUtf8(document.toJson(QJsonDocument::Indented));
}

QString modelCardHtml(const ModelInfo& info) {
    const SwitchConfig& c = info.config;
    const auto moeLayers = static_cast<int64_t>(info.moeBlocks.size());
    QStringList blocks;
    for (int64_t b : info.moeBlocks) blocks << QString::number(b);
    QString html = QStringLiteral("<table cellspacing='2'>");
    html += row(QObject::tr("Folder"), qs(info.path.string()).toHtmlEscaped());
    html +=
        row(QObject::tr("Architecture"),
            QObject::tr("Switch Transformers encoder: %1 blocks, d_model %2, %3 heads × d_kv %4, d_ff %5, "
                        "%6 activation, vocabulary %7")
                .arg(c.num_layers)
                .arg(c.d_model)
                .arg(c.num_heads)
                .arg(c.d_kv)
                .arg(c.d_ff)
                .arg(qs(c.dense_act_fn))
                .arg(count(c.vocab_size)));
    html +=
        row(QObject::tr("MoE layers"), QObject::tr("%1 (blocks %2)").arg(moeLayers).arg(blocks.join(u", ")));
    html += row(QObject::tr("Experts per layer"),
                QObject::tr("%1, expert capacity %2").arg(c.num_experts).arg(c.expert_capacity));
    html += row(QObject::tr("Parameters"),
                QObject::tr("%1, of which %2 in experts (%3%)")
                    .arg(count(info.parameters))
                    .arg(count(info.expertParameters))
                    .arg(info.parameters == 0 ? 0.0
                                              : 100.0 * static_cast<double>(info.expertParameters) /
                                                    static_cast<double>(info.parameters),
                         0, 'f', 1));
    html +=
        row(QObject::tr("Expert bytes"), QObject::tr("%1 per expert, %2 for all %3; %4 for everything else")
                                             .arg(formatBytes(static_cast<double>(info.expertBytes)),
                                                  formatBytes(static_cast<double>(info.totalExpertBytes)))
                                             .arg(moeLayers * c.num_experts)
                                             .arg(formatBytes(static_cast<double>(info.nonExpertBytes))));
    QStringList stored;
    for (const auto& [dtype, tensors] : info.storedDTypes)
        stored << QObject::tr("%1 × %2").arg(tensors).arg(qs(dtype));
    html += row(QObject::tr("Dtype"), QObject::tr("computes in %1; stored as %2 (%3 in %4 file(s))")
                                          .arg(qs(info.computeDType), stored.join(u", "),
                                               formatBytes(static_cast<double>(info.checkpointBytes)))
                                          .arg(info.checkpointFiles));
    html += row(QObject::tr("Device"), qs(info.device));
    QStringList labels;
    for (const std::string& label : info.labels) labels << qs(label).toHtmlEscaped();
    html += row(QObject::tr("Labels"),
                labels.isEmpty() ? QObject::tr("none (no classifier head)") : labels.join(u", "));
    html += row(QObject::tr("Inputs"), QObject::tr("up to %1 tokens; tokenizer with %2 pieces")
                                           .arg(info.maxLength)
                                           .arg(count(info.tokenizerPieces)));
    const PredictorInfo& p = info.predictor;
    QString predictor;
    if (!p.present) {
        predictor = QObject::tr("none — SiDA needs one: use <i>Train predictor</i>");
    } else {
        predictor = QObject::tr("LSTM %1 × %2%3")
                        .arg(p.lstmLayers)
                        .arg(p.hidden)
                        .arg(p.bidirectional ? QObject::tr(", bidirectional") : QString());
        if (p.devTop1 > 0)
            predictor += QObject::tr("; hit rate on its dev set: top-1 %1%, top-3 %2%")
                             .arg(p.devTop1 * 100.0, 0, 'f', 1)
                             .arg(p.devTop3 * 100.0, 0, 'f', 1);
    }
    html += row(QObject::tr("Predictor"), predictor);
    html += row(QObject::tr("Training recipe"), info.trainingRecord.empty()
                                                    ? QObject::tr("not recorded (no training.json)")
                                                    : QObject::tr("training.json, shown below"));
    html += QStringLiteral("</table>");
    return html;
}

ModelPage::ModelPage(EngineController* controller, QWidget* parent)
    : QWidget(parent), m_controller(controller) {
    m_title = new QLabel(tr("No model loaded"), this);
    QFont big = m_title->font();
    big.setPointSizeF(big.pointSizeF() * 1.3);
    big.setBold(true);
    m_title->setFont(big);
    m_openButton = new QPushButton(tr("Open model…"), this);
    m_openButton->setToolTip(tr("Open a model folder (Ctrl+O); you can also drop one on the window"));
    connect(m_openButton, &QPushButton::clicked, this, &ModelPage::openRequested);
    m_device = new QComboBox(this);
    m_device->setToolTip(tr("The device the model computes on; changing it loads the model again"));
    m_device->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_device->setMinimumContentsLength(30);
    m_device->addItem(tr("auto (listing devices…)"), QStringLiteral("auto"));
    connect(m_device, &QComboBox::activated, this, [this] { Q_EMIT deviceChosen(selectedDevice()); });

    m_loadStage = new QLabel(this);
    m_loadProgress = new QProgressBar(this);
    auto* cancelLoad = new QPushButton(tr("Cancel"), this);
    cancelLoad->setToolTip(tr("Stop loading"));
    connect(cancelLoad, &QPushButton::clicked, controller, &EngineController::cancelLoad);
    m_loadRow = new QWidget(this);
    auto* loadLayout = new QHBoxLayout(m_loadRow);
    loadLayout->setContentsMargins(0, 0, 0, 0);
    loadLayout->addWidget(m_loadStage);
    loadLayout->addWidget(m_loadProgress, 1);
    loadLayout->addWidget(cancelLoad);
    m_loadRow->setVisible(false);

    m_card = new QTextBrowser(this);
    m_card->setOpenLinks(false);
    m_card->setPlaceholderText(tr("Open a model folder to see what it is made of."));

    m_predictorState = new QLabel(this);
    m_predictorState->setWordWrap(true);
    m_trainButton = new QPushButton(tr("Train predictor…"), this);
    m_trainButton->setToolTip(
        tr("Train the SiDA predictor for this model from a data set (runs in the background)"));
    m_trainButton->setEnabled(false);
    connect(m_trainButton, &QPushButton::clicked, this, &ModelPage::trainRequested);
    m_trainProgress = new QProgressBar(this);
    auto* cancelTrain = new QPushButton(tr("Stop training"), this);
    cancelTrain->setToolTip(tr("Stop and keep the best epoch so far"));
    connect(cancelTrain, &QPushButton::clicked, controller, &EngineController::cancelBackgroundJob);
    m_trainRow = new QWidget(this);
    auto* trainLayout = new QHBoxLayout(m_trainRow);
    trainLayout->setContentsMargins(0, 0, 0, 0);
    trainLayout->addWidget(m_trainProgress, 1);
    trainLayout->addWidget(cancelTrain);
    m_trainRow->setVisible(false);
    m_trainLog = new QPlainTextEdit(this);
    m_trainLog->setReadOnly(true);
    m_trainLog->setMaximumBlockCount(500);
    m_trainLog->setVisible(false);
    m_trainLog->setMaximumHeight(120);

    m_recipe = new QPlainTextEdit(this);
    m_recipe->setReadOnly(true);
    m_recipe->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_recipe->setPlaceholderText(tr("The model folder has no training.json."));

    auto* header = new QHBoxLayout;
    header->addWidget(m_title, 1);
    header->addWidget(new QLabel(tr("Device:"), this));
    header->addWidget(m_device);
    header->addWidget(m_openButton);

    auto* predictorBox = new QGroupBox(tr("SiDA predictor"), this);
    auto* predictorLayout = new QVBoxLayout(predictorBox);
    auto* predictorRow = new QHBoxLayout;
    predictorRow->addWidget(m_predictorState, 1);
    predictorRow->addWidget(m_trainButton);
    predictorLayout->addLayout(predictorRow);
    predictorLayout->addWidget(m_trainRow);
    predictorLayout->addWidget(m_trainLog);

    auto* recipeBox = new QGroupBox(tr("Training recipe (training.json)"), this);
    auto* recipeLayout = new QVBoxLayout(recipeBox);
    recipeLayout->addWidget(m_recipe);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_card);
    split->addWidget(recipeBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(header);
    layout->addWidget(m_loadRow);
    layout->addWidget(predictorBox);
    layout->addWidget(split, 1);

    connect(controller, &EngineController::loadStarted, this, &ModelPage::onLoadStarted);
    connect(controller, &EngineController::loadProgress, this, &ModelPage::onLoadProgress);
    connect(controller, &EngineController::modelLoaded, this, &ModelPage::onModelLoaded);
    connect(controller, &EngineController::loadFailed, this, &ModelPage::onLoadEnded);
    connect(controller, &EngineController::loadCancelled, this, &ModelPage::onLoadEnded);
    connect(controller, &EngineController::devicesListed, this, &ModelPage::onDevicesListed);
    connect(controller, &EngineController::backgroundStarted, this, &ModelPage::onTrainingStarted);
    connect(controller, &EngineController::backgroundProgress, this, &ModelPage::onTrainingProgress);
    connect(controller, &EngineController::backgroundFinished, this, &ModelPage::onTrainingEnded);
    connect(controller, &EngineController::backgroundFailed, this, &ModelPage::onTrainingEnded);
}

QString ModelPage::selectedDevice() const { return m_device->currentData().toString(); }

void ModelPage::setPreferredDevice(const QString& device) {
    m_preferredDevice = device;
    const int index = m_device->findData(device);
    if (index >= 0) m_device->setCurrentIndex(index);
}

void ModelPage::onDevicesListed(const std::vector<DeviceDescription>& devices) {
    m_device->clear();
    m_device->addItem(tr("auto (the first GPU, else the CPU)"), QStringLiteral("auto"));
    for (const DeviceDescription& d : devices) {
        m_device->addItem(deviceLabel(d), qs(d.id));
        m_device->setItemData(m_device->count() - 1,
                              tr("%1 of memory in total").arg(formatBytes(static_cast<double>(d.totalBytes))),
                              Qt::ToolTipRole);
    }
    setPreferredDevice(m_preferredDevice);
}

void ModelPage::onLoadStarted(const QString& dir) {
    m_title->setText(tr("Loading %1…").arg(QFileInfo(dir).fileName()));
    m_loadStage->setText(tr("starting"));
    m_loadProgress->setRange(0, 0);
    m_loadRow->setVisible(true);
}

void ModelPage::onLoadProgress(const QString& stage, qint64 done, qint64 total) {
    m_loadStage->setText(stage);
    // The bar shows thousandths, so byte counts beyond int still fit.
    m_loadProgress->setRange(0, total > 0 ? 1000 : 0);
    if (total > 0) m_loadProgress->setValue(static_cast<int>(1000 * done / total));
}

void ModelPage::onModelLoaded(const ModelInfo& info) {
    onLoadEnded();
    m_title->setText(qs(info.path.filename().string()));
    m_card->setHtml(modelCardHtml(info));
    m_recipe->setPlainText(prettyTrainingRecord(info.trainingRecord));
    m_predictorState->setText(
        info.predictor.present
            ? tr("This model has a predictor: the SiDA policies can run.")
            : tr("This model has no predictor, so it is served with the Standard or On-demand "
                 "policy. Train one to use SiDA."));
    m_trainButton->setEnabled(!m_controller->isBackgroundJobRunning());
    m_trainButton->setText(info.predictor.present ? tr("Retrain predictor…") : tr("Train predictor…"));
}

void ModelPage::onLoadEnded() {
    m_loadRow->setVisible(false);
    if (!m_controller->hasModel())
        m_title->setText(tr("No model loaded"));
    else
        m_title->setText(qs(m_controller->modelInfo().path.filename().string()));
}

void ModelPage::onTrainingStarted(const QString& what) {
    m_trainButton->setEnabled(false);
    m_trainRow->setVisible(true);
    m_trainLog->setVisible(true);
    m_trainLog->clear();
    m_trainLog->appendPlainText(what);
    m_trainProgress->setRange(0, 0);
}

void ModelPage::onTrainingProgress(const QString& stage, qint64 done, qint64 total, const QString& detail) {
    m_trainProgress->setRange(0, total > 0 ? 1000 : 0);
    if (total > 0) m_trainProgress->setValue(static_cast<int>(1000 * done / total));
    m_trainProgress->setFormat(stage + QStringLiteral(" %p%"));
    if (total == 0 && !detail.isEmpty()) m_trainLog->appendPlainText(detail);
}

void ModelPage::onTrainingEnded(const QString& message) {
    m_trainRow->setVisible(false);
    m_trainLog->appendPlainText(message);
    m_trainButton->setEnabled(m_controller->hasModel());
}

} // namespace sida::ui
