// SPDX-License-Identifier: MIT
#include "main_window.h"

#include "classify_panel.h"
#include "compare_view.h"
#include "engine_controller.h"
#include "experts_view.h"
#include "hash_table_view.h"
#include "memory_view.h"
#include "model_page.h"
#include "predictor_view.h"
#include "settings_dialog.h"
#include "sparsity_view.h"
#include "theme.h"
#include "throughput_view.h"
#include "train_predictor_dialog.h"

#include "sida/device.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>

#include <qcustomplot.h>

// Q_INIT_RESOURCE must be called from the global namespace.
static void initStudioResources() { Q_INIT_RESOURCE(sida_studio); }

namespace sida::ui {

namespace {

// The tab of each view, in the order of viewNames().
enum ViewIndex {
    ModelView,
    HashView,
    ExpertsViewIndex,
    MemoryViewIndex,
    ThroughputViewIndex,
    PredictorViewIndex,
    SparsityViewIndex,
    CompareViewIndex
};

QList<InputText> readSamples(const QString& resource) {
    QFile file(resource);
    if (!file.open(QIODevice::ReadOnly)) return {};
    const QString text = QString::fromUtf8(file.readAll());
    if (!resource.endsWith(u".tsv")) return parseInputLines(text);
    // sentence <tab> label, with a header row.
    QList<InputText> inputs;
    const QList<InputText> rows = parseInputLines(text);
    for (qsizetype i = 1; i < rows.size(); ++i) {
        InputText input = rows[i];
        input.expectedLabel = input.pair.value_or(QString());
        input.pair.reset();
        inputs << input;
    }
    return inputs;
}

bool isModelFolder(const QString& path) {
    return QFileInfo(QDir(path).filePath(QStringLiteral("config.json"))).isFile();
}

} // namespace

MainWindow::MainWindow(QSettings* settings, QWidget* parent)
    : QMainWindow(parent),
      m_store(settings ? settings
                       : new QSettings(QStringLiteral("SiDA Studio"), QStringLiteral("sida-studio"))),
      m_settings(StudioSettings::load(*m_store)), m_controller(new EngineController(this)) {
    initStudioResources();
    setWindowTitle(tr("SiDA Studio"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/sida-studio.svg")));
    setAcceptDrops(true);
    m_controller->setOptions(m_settings.pipeline);
    createViews();
    createActions();
    createMenus();
    createStatusBar();
    connectController();
    restoreGeometry(m_store->value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(m_store->value(QStringLiteral("window/state")).toByteArray());
    m_split->restoreState(m_store->value(QStringLiteral("window/split")).toByteArray());
    m_tabs->setCurrentIndex(m_store->value(QStringLiteral("window/view"), HashView).toInt());
    m_controller->refreshDevices();
    updateStatus();
}

MainWindow::~MainWindow() = default;

QStringList MainWindow::viewNames() {
    return {QStringLiteral("model"),    QStringLiteral("hash-table"), QStringLiteral("experts"),
            QStringLiteral("memory"),   QStringLiteral("throughput"), QStringLiteral("predictor"),
            QStringLiteral("sparsity"), QStringLiteral("compare")};
}

bool MainWindow::showView(const QString& name) {
    const auto index = viewNames().indexOf(name);
    if (index < 0) return false;
    m_tabs->setCurrentIndex(static_cast<int>(index));
    return true;
}

QList<InputText> MainWindow::sampleSentences() {
    return readSamples(QStringLiteral(":/samples/sentences.txt"));
}
QList<InputText> MainWindow::labelledSamples() {
    return readSamples(QStringLiteral(":/samples/sst2-sample.tsv"));
}

void MainWindow::createViews() {
    m_classify = new ClassifyPanel(m_controller, this);
    m_modelPage = new ModelPage(m_controller, this);
    m_modelPage->setPreferredDevice(m_settings.device);
    m_hashTable = new HashTableView(this);
    m_experts = new ExpertsView(this);
    m_memory = new MemoryView(this);
    m_throughput = new ThroughputView(this);
    m_predictor = new PredictorView(this);
    m_sparsity = new SparsityView(m_controller, this);
    m_sparsity->setSampleInputs(labelledSamples());
    m_compare = new CompareView(m_controller, this);
    m_compare->setSampleInputs(labelledSamples());
    m_compare->setTextInputSource([this] { return m_classify->textInputs(); });

    m_tabs = new QTabWidget(this);
    m_tabs->setDocumentMode(true);
    const QStringList titles{tr("Model"),      tr("Hash table"), tr("Experts"),         tr("Memory"),
                             tr("Throughput"), tr("Predictor"),  tr("Sparsity lesson"), tr("Compare")};
    const QList<QWidget*> pages{m_modelPage,  m_hashTable, m_experts,  m_memory,
                                m_throughput, m_predictor, m_sparsity, m_compare};
    for (int i = 0; i < pages.size(); ++i) m_tabs->addTab(pages[i], titles[i]);
    m_tabs->setTabToolTip(HashView, tr("The predictor's hash table for one sentence: tokens by MoE layers"));
    m_tabs->setTabToolTip(ExpertsViewIndex,
                          tr("Every expert of every MoE layer: where it lives and how often it runs"));
    m_tabs->setTabToolTip(MemoryViewIndex, tr("Expert and weight memory over time"));
    m_tabs->setTabToolTip(ThroughputViewIndex,
                          tr("Samples and tokens per second, latency, hash queue, copies"));
    m_tabs->setTabToolTip(PredictorViewIndex,
                          tr("How often the predictor agrees with the routers, and where not"));
    m_tabs->setTabToolTip(SparsityViewIndex, tr("Teaching mode: why most experts can stay off the GPU"));
    m_tabs->setTabToolTip(CompareViewIndex, tr("The same inputs under several policies, side by side"));
    connect(m_tabs, &QTabWidget::currentChanged, this, &MainWindow::onFrame);

    m_split = new QSplitter(Qt::Horizontal, this);
    m_split->addWidget(m_classify);
    m_split->addWidget(m_tabs);
    m_split->setStretchFactor(0, 2);
    m_split->setStretchFactor(1, 3);
    m_split->setSizes({640, 960}); // until a saved state says otherwise
    setCentralWidget(m_split);

    connect(m_classify, &ClassifyPanel::rowSelected, this,
            [this](quint64 batch, quint64 request) { pinHashTable(batch, request, -1); });
    connect(m_predictor, &PredictorView::openSentence, this,
            [this](quint64 batch, quint64 request, int token) {
                pinHashTable(batch, request, token);
                showView(QStringLiteral("hash-table"));
            });
    connect(m_modelPage, &ModelPage::deviceChosen, this, [this](const QString& device) {
        m_settings.device = device;
        m_settings.save(*m_store);
        m_controller->reloadModel(loadOptions());
    });
    connect(m_classify, &ClassifyPanel::message, this, &MainWindow::showMessage);
    connect(m_sparsity, &SparsityView::message, this, &MainWindow::showMessage);
    connect(m_compare, &CompareView::message, this, &MainWindow::showMessage);
}

void MainWindow::createActions() {
    m_openAction = new QAction(QIcon(QStringLiteral(":/icons/open.svg")), tr("&Open model…"), this);
    m_openAction->setShortcut(QKeySequence::Open);
    m_openAction->setToolTip(tr("Open a model folder (Ctrl+O)"));
    connect(m_openAction, &QAction::triggered, this, &MainWindow::chooseModel);
    connect(m_modelPage, &ModelPage::openRequested, this, &MainWindow::chooseModel);

    m_settingsAction = new QAction(QIcon(QStringLiteral(":/icons/settings.svg")), tr("&Settings…"), this);
    m_settingsAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
    m_settingsAction->setToolTip(tr("Policy, top-k, expert budget, batch size, theme (Ctrl+,)"));
    connect(m_settingsAction, &QAction::triggered, this, &MainWindow::showSettings);

    m_trainAction = new QAction(QIcon(QStringLiteral(":/icons/train.svg")), tr("&Train predictor…"), this);
    m_trainAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    m_trainAction->setToolTip(tr("Train the SiDA predictor for the loaded model (Ctrl+T)"));
    m_trainAction->setEnabled(false);
    connect(m_trainAction, &QAction::triggered, this, &MainWindow::trainPredictor);
    connect(m_modelPage, &ModelPage::trainRequested, this, &MainWindow::trainPredictor);

    m_followAction = new QAction(tr("&Follow latest batch"), this);
    m_followAction->setCheckable(true);
    m_followAction->setChecked(true);
    m_followAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    m_followAction->setToolTip(
        tr("The hash table follows each new batch instead of the picked sentence (Ctrl+L)"));
    connect(m_followAction, &QAction::triggered, this, [this](bool follow) {
        if (follow)
            m_hashTable->followLatest();
        else
            m_followAction->setChecked(m_hashTable->isFollowing());
    });
    connect(m_hashTable, &HashTableView::followingChanged, m_followAction, &QAction::setChecked);
}

void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(m_openAction);
    m_recentMenu = file->addMenu(tr("Open &recent"));
    rebuildRecentMenu();
    file->addSeparator();
    file->addAction(m_classify->importAction());
    file->addAction(m_classify->exportCsvAction());
    file->addAction(m_classify->exportJsonAction());
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addAction(m_classify->copyAction());
    edit->addAction(m_classify->findAction());
    edit->addAction(m_classify->clearAction());
    edit->addSeparator();
    edit->addAction(m_settingsAction);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(m_classify->classifyAction());
    run->addAction(m_classify->cancelJobAction());
    run->addAction(m_classify->cancelAllAction());
    run->addSeparator();
    run->addAction(m_trainAction);
    QAction* lesson = run->addAction(tr("Run sparsity &lesson"), this, [this] {
        showView(QStringLiteral("sparsity"));
        QString error;
        if (!m_sparsity->startLesson(labelledSamples(), &error)) showMessage(error);
    });
    lesson->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_L));
    lesson->setToolTip(tr("Run the sample sentences and plot idle experts against length (Ctrl+Shift+L)"));
    QAction* compare = run->addAction(tr("Co&mpare policies"), this, [this] {
        showView(QStringLiteral("compare"));
        QString error;
        QList<Policy> policies{Policy::Standard, Policy::OnDemand};
        if (m_controller->hasModel() && m_controller->modelInfo().predictor.present) policies << Policy::Sida;
        if (!m_compare->startComparison(policies, labelledSamples(), &error)) showMessage(error);
    });
    compare->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_M));
    compare->setToolTip(
        tr("Run the samples under Standard, On demand and (with a predictor) SiDA (Ctrl+Shift+M)"));

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (int i = 0; i < m_tabs->count(); ++i) {
        QAction* show = view->addAction(m_tabs->tabText(i), this, [this, i] { m_tabs->setCurrentIndex(i); });
        show->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    }
    view->addSeparator();
    view->addAction(m_followAction);
    QMenu* theme = view->addMenu(tr("&Theme"));
    auto* themes = new QActionGroup(this);
    for (Theme t : {Theme::System, Theme::Light, Theme::Dark}) {
        const QString title = t == Theme::System  ? tr("Follow the &system")
                              : t == Theme::Light ? tr("&Light")
                                                  : tr("&Dark");
        QAction* choice = theme->addAction(title, this, [this, t] {
            StudioSettings s = m_settings;
            s.theme = t;
            applySettings(s);
        });
        choice->setCheckable(true);
        choice->setChecked(m_settings.theme == t);
        themes->addAction(choice);
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(QIcon(QStringLiteral(":/icons/sida-studio.svg")),
                                     tr("&About SiDA Studio"), this, &MainWindow::showAbout);
    about->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    QToolBar* tools = addToolBar(tr("Main"));
    tools->setObjectName(QStringLiteral("mainToolBar"));
    tools->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    tools->addAction(m_openAction);
    tools->addAction(m_classify->classifyAction());
    tools->addAction(m_classify->importAction());
    tools->addAction(m_classify->cancelJobAction());
    tools->addSeparator();
    tools->addAction(m_trainAction);
    tools->addAction(m_settingsAction);
}

void MainWindow::createStatusBar() {
    m_modelStatus = new QLabel(this);
    m_deviceStatus = new QLabel(this);
    m_policyStatus = new QLabel(this);
    m_queueStatus = new QLabel(this);
    statusBar()->addPermanentWidget(m_modelStatus);
    statusBar()->addPermanentWidget(m_deviceStatus);
    statusBar()->addPermanentWidget(m_policyStatus);
    statusBar()->addPermanentWidget(m_queueStatus);
}

void MainWindow::connectController() {
    connect(m_controller, &EngineController::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(m_controller, &EngineController::loadFailed, this, &MainWindow::onLoadFailed);
    connect(m_controller, &EngineController::loadStarted, this,
            [this](const QString& dir) { statusBar()->showMessage(tr("Loading %1…").arg(dir)); });
    connect(m_controller, &EngineController::loadCancelled, this,
            [this] { statusBar()->showMessage(tr("Loading cancelled."), 5000); });
    connect(m_controller, &EngineController::servingNote, this, &MainWindow::showMessage);
    connect(m_controller, &EngineController::optionsChanged, this, [this](const PipelineOptions& options) {
        m_predictor->setServingOptions(options, m_controller->hasModel() &&
                                                    m_controller->modelInfo().predictor.present);
        updateStatus();
    });
    connect(m_controller, &EngineController::tracesArrived, this, &MainWindow::onTraces);
    connect(m_controller, &EngineController::frameTick, this, &MainWindow::onFrame);
    connect(m_controller, &EngineController::backgroundStarted, this,
            [this] { m_trainAction->setEnabled(false); });
    connect(m_controller, &EngineController::backgroundFinished, this, &MainWindow::showMessage);
    connect(m_controller, &EngineController::backgroundFailed, this, [this](const QString& message) {
        m_trainAction->setEnabled(m_controller->hasModel());
        showMessage(tr("Training the predictor failed: %1").arg(message));
    });
    // Experiments change the pipeline's settings run by run: typed jobs wait until they are done.
    connect(m_sparsity, &SparsityView::lessonStarted, this, &MainWindow::updateBusy);
    connect(m_sparsity, &SparsityView::lessonFinished, this, &MainWindow::updateBusy);
    connect(m_compare, &CompareView::comparisonStarted, this, &MainWindow::updateBusy);
    connect(m_compare, &CompareView::comparisonFinished, this, &MainWindow::updateBusy);
}

LoadOptions MainWindow::loadOptions() const {
    LoadOptions options;
    options.device = m_settings.device.toStdString();
    options.threads = m_settings.threads;
    options.dtype = m_settings.dtype.toStdString();
    return options;
}

void MainWindow::openModel(const QString& dir) { m_controller->loadModel(dir, loadOptions()); }

bool MainWindow::openInitialModel() {
    const std::filesystem::path bundled = defaultModelDir();
    if (!bundled.empty()) {
        openModel(qs(bundled.string()));
        return true;
    }
    for (const QString& recent : m_settings.recentModels) {
        if (!isModelFolder(recent)) continue;
        openModel(recent);
        return true;
    }
    showMessage(tr("The bundled demo model was not found: open a model folder with File > Open model."));
    return false;
}

void MainWindow::chooseModel() {
    const QString start =
        m_controller->hasModel() ? QFileInfo(m_controller->modelDir()).path() : QDir::homePath();
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a model folder"), start);
    if (!dir.isEmpty()) openModel(dir);
}

void MainWindow::rebuildRecentMenu() {
    m_recentMenu->clear();
    for (const QString& dir : m_settings.recentModels)
        m_recentMenu->addAction(dir, this, [this, dir] { openModel(dir); });
    m_recentMenu->setEnabled(!m_settings.recentModels.isEmpty());
}

void MainWindow::onModelLoaded(const ModelInfo& info) {
    m_settings.addRecentModel(m_controller->modelDir());
    m_settings.save(*m_store);
    rebuildRecentMenu();
    m_hashTable->clear();
    m_experts->reset(info);
    m_memory->clear();
    m_throughput->clear();
    m_predictor->reset(info);
    m_predictor->setServingOptions(m_controller->options(), info.predictor.present);
    m_sparsity->reset(info);
    m_compare->reset(info);
    m_trainAction->setEnabled(!m_controller->isBackgroundJobRunning());
    statusBar()->showMessage(tr("Loaded %1").arg(qs(info.path.string())), 5000);
    updateStatus();
}

void MainWindow::onLoadFailed(const QString& dir, const QString& message) {
    statusBar()->showMessage(tr("Could not open %1").arg(dir), 10000);
    // Not modal: the engine's message says exactly what is wrong and the app stays usable.
    auto* box = new QMessageBox(QMessageBox::Critical, tr("Cannot open the model"),
                                tr("<b>%1</b> is not a model SiDA Studio can open.").arg(dir.toHtmlEscaped()),
                                QMessageBox::Ok, this);
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setObjectName(QStringLiteral("loadError"));
    box->open();
    updateStatus();
}

void MainWindow::onTraces(const QList<TracePtr>& traces) {
    for (const TracePtr& trace : traces)
        if (!trace->notice.empty()) showMessage(qs(trace->notice));
    // Every view keeps its data current; painting waits for the frame clock.
    m_experts->addTraces(traces);
    m_memory->addTraces(traces);
    m_throughput->addTraces(traces);
    m_predictor->addTraces(traces);
}

void MainWindow::onFrame() {
    // Only the visible view repaints; the others catch up when shown.
    switch (m_tabs->currentIndex()) {
    case HashView:
        m_hashTable->updateLatest(m_controller->latestTrace());
        break;
    case ExpertsViewIndex:
        m_experts->refresh();
        break;
    case MemoryViewIndex:
        m_memory->refresh();
        break;
    case ThroughputViewIndex:
        m_throughput->refresh();
        break;
    case PredictorViewIndex:
        m_predictor->refresh();
        break;
    default:
        break;
    }
    m_queueStatus->setText(tr("%1 queued").arg(m_classify->results()->pendingCount()));
}

void MainWindow::pinHashTable(quint64 batchIndex, quint64 requestId, int token) {
    const TracePtr trace = m_controller->traceForBatch(batchIndex);
    if (trace)
        m_hashTable->pin(trace, requestId, token);
    else
        m_hashTable->showUnavailable(
            tr("Batch %1 is no longer kept (only the most recent batches are).").arg(batchIndex));
}

void MainWindow::showSettings() {
    const int experts =
        m_controller->hasModel() ? static_cast<int>(m_controller->modelInfo().config.num_experts) : 0;
    const bool predictor = m_controller->hasModel() && m_controller->modelInfo().predictor.present;
    SettingsDialog dialog(m_settings, experts, predictor, this);
    connect(&dialog, &SettingsDialog::applied, this, &MainWindow::applySettings);
    dialog.exec();
}

void MainWindow::applySettings(const StudioSettings& settings) {
    const StudioSettings before = m_settings;
    m_settings = settings;
    if (const QString refused = m_controller->setOptions(settings.pipeline); !refused.isEmpty())
        showMessage(tr("These settings cannot run: %1").arg(refused));
    if (settings.theme != before.theme) applyTheme(settings.theme);
    m_settings.save(*m_store);
    // The compute dtype shapes every loaded weight: the model is loaded again in it.
    if (settings.dtype != before.dtype && m_controller->hasModel()) m_controller->reloadModel(loadOptions());
    updateStatus();
}

void MainWindow::trainPredictor() {
    if (!m_controller->hasModel()) return;
    TrainPredictorDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted) return;
    PredictorTrainOptions options = dialog.options();
    options.threads = m_settings.threads;
    options.device = m_controller->loadOptions().device;
    if (m_controller->startPredictorTraining(options)) showView(QStringLiteral("model"));
}

void MainWindow::showAbout() {
    const RuntimeVersions v = runtimeVersions();
    QMessageBox::about(
        this, tr("About SiDA Studio"),
        tr("<h3>SiDA Studio %1</h3>"
           "<p>Runs Switch Transformers Mixture-of-Experts classifiers the SiDA-MoE way: a small "
           "predictor chooses each batch's experts ahead of inference, so only those occupy the "
           "device — and shows it happening.</p>"
           "<table><tr><td>Qt</td><td>%2</td></tr><tr><td>LibTorch</td><td>%3</td></tr>"
           "<tr><td>CUDA</td><td>%4%5</td></tr><tr><td>QCustomPlot</td><td>%6</td></tr></table>")
            .arg(qs(v.sida), QString::fromLatin1(qVersion()), qs(v.libtorch), qs(v.cuda),
                 v.cudaDevicePresent ? tr(" (device present)") : tr(" (no device)"),
                 QStringLiteral(QCUSTOMPLOT_VERSION_STR)));
}

void MainWindow::updateStatus() {
    if (m_controller->hasModel()) {
        const ModelInfo& info = m_controller->modelInfo();
        m_modelStatus->setText(tr("Model: %1").arg(qs(info.path.filename().string())));
        m_deviceStatus->setText(tr("Device: %1").arg(qs(info.device)));
    } else {
        m_modelStatus->setText(tr("No model"));
        m_deviceStatus->setText(tr("Device: %1").arg(m_settings.device));
    }
    const PipelineOptions o = m_controller->options();
    m_policyStatus->setText(
        tr("Policy: %1 · top-%2 · batch %3").arg(policyTitle(o.policy)).arg(o.topK).arg(o.batchSize));
    m_policyStatus->setToolTip(policyExplanation(o.policy));
    updateBusy();
}

void MainWindow::updateBusy() {
    const bool experiment = m_sparsity->isRunning() || m_compare->isRunning();
    m_classify->setBusyReason(experiment ? tr("A comparison or lesson is running") : QString());
}

void MainWindow::showMessage(const QString& text) { statusBar()->showMessage(text, 10000); }

void MainWindow::saveState() {
    m_store->setValue(QStringLiteral("window/geometry"), saveGeometry());
    m_store->setValue(QStringLiteral("window/state"), QMainWindow::saveState());
    m_store->setValue(QStringLiteral("window/split"), m_split->saveState());
    m_store->setValue(QStringLiteral("window/view"), m_tabs->currentIndex());
    m_settings.save(*m_store);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveState();
    m_controller->cancelAll();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.front().isLocalFile() && QFileInfo(urls.front().toLocalFile()).isDir())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    // A folder without config.json is still opened, so that the error dialog says what is missing.
    openModel(event->mimeData()->urls().front().toLocalFile());
    event->acceptProposedAction();
}

} // namespace sida::ui
