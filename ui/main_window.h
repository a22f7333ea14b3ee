// SPDX-License-Identifier: MIT
// SiDA Studio's main window: the classify panel on the left, the views in tabs on the right (Model,
// Hash table, Experts, Memory, Throughput, Predictor, Sparsity lesson, Compare), menus and shortcuts
// for every action, and a status bar naming the model, the device and the policy.
#pragma once

#include "engine_types.h"
#include "results_model.h"
#include "studio_settings.h"

#include <QMainWindow>
#include <QStringList>

#include <memory>

class QAction;
class QLabel;
class QMenu;
class QSettings;
class QSplitter;
class QTabWidget;

namespace sida::ui {

class ClassifyPanel;
class CompareView;
class EngineController;
class ExpertsView;
class HashTableView;
class MemoryView;
class ModelPage;
class PredictorView;
class SparsityView;
class ThroughputView;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    /// `settings`: where preferences live (the user's QSettings when null); the window keeps it.
    explicit MainWindow(QSettings* settings = nullptr, QWidget* parent = nullptr);
    ~MainWindow() override;

    /// The names --view accepts, in tab order.
    static QStringList viewNames();
    /// Shows a view by name; false for an unknown name.
    bool showView(const QString& name);

    /// Opens a model folder (off the GUI thread); errors appear in a dialog.
    void openModel(const QString& dir);
    /// The bundled demo model, else the most recent one; false when there is neither.
    bool openInitialModel();
    void applySettings(const StudioSettings& settings);
    const StudioSettings& settings() const { return m_settings; }
    /// The bundled sample sentences (resources/samples), plain and labelled.
    static QList<InputText> sampleSentences();
    static QList<InputText> labelledSamples();

    EngineController* controller() const { return m_controller; }
    ClassifyPanel* classifyPanel() const { return m_classify; }
    ModelPage* modelPage() const { return m_modelPage; }
    HashTableView* hashTableView() const { return m_hashTable; }
    ExpertsView* expertsView() const { return m_experts; }
    MemoryView* memoryView() const { return m_memory; }
    ThroughputView* throughputView() const { return m_throughput; }
    PredictorView* predictorView() const { return m_predictor; }
    SparsityView* sparsityView() const { return m_sparsity; }
    CompareView* compareView() const { return m_compare; }

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    /// How models are loaded under the current settings (device, threads, dtype).
    LoadOptions loadOptions() const;
    void createViews();
    void createActions();
    void createMenus();
    void createStatusBar();
    void connectController();
    void chooseModel();
    void showSettings();
    void showAbout();
    void trainPredictor();
    void rebuildRecentMenu();
    void onModelLoaded(const ModelInfo& info);
    void onLoadFailed(const QString& dir, const QString& message);
    void onTraces(const QList<TracePtr>& traces);
    void onFrame();
    void pinHashTable(quint64 batchIndex, quint64 requestId, int token);
    void updateStatus();
    void updateBusy();
    void showMessage(const QString& text);
    void saveState();

    std::unique_ptr<QSettings> m_store;
    StudioSettings m_settings;
    EngineController* m_controller;
    ClassifyPanel* m_classify = nullptr;
    QTabWidget* m_tabs = nullptr;
    QSplitter* m_split = nullptr;
    ModelPage* m_modelPage = nullptr;
    HashTableView* m_hashTable = nullptr;
    ExpertsView* m_experts = nullptr;
    MemoryView* m_memory = nullptr;
    ThroughputView* m_throughput = nullptr;
    PredictorView* m_predictor = nullptr;
    SparsityView* m_sparsity = nullptr;
    CompareView* m_compare = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_openAction = nullptr;
    QAction* m_settingsAction = nullptr;
    QAction* m_trainAction = nullptr;
    QAction* m_followAction = nullptr;
    QLabel* m_modelStatus = nullptr;
    QLabel* m_deviceStatus = nullptr;
    QLabel* m_policyStatus = nullptr;
    QLabel* m_queueStatus = nullptr;
};

} // namespace sida::ui
