// SPDX-License-Identifier: MIT
// The hash table view: a heatmap of one sentence's tokens (x) by MoE layers (y), coloured by the
// predicted expert, with misses marked where the shadow router disagreed. Follows the newest batch, or
// stays on a sentence the user picked (a results row, a miss).
#pragma once

#include "engine_types.h"
#include "hash_table_grid.h"

#include <QWidget>

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCPItemRect;
class QLabel;
class QToolButton;

namespace sida::ui {

class HashTableView : public QWidget {
    Q_OBJECT

public:
    explicit HashTableView(QWidget* parent = nullptr);

    /// Shows the newest batch's last sentence from now on.
    void followLatest();
    /// Shows one sentence of a trace until followLatest(); `token` >= 0 is outlined.
    void pin(const TracePtr& trace, quint64 requestId, int token = -1);
    /// The pinned sentence is no longer kept (its trace was dropped): says so.
    void showUnavailable(const QString& why);
    bool isFollowing() const { return m_following; }

    /// Called on the frame clock with the newest trace; redraws only when it changed.
    void updateLatest(const TracePtr& latest);
    void clear();

    const HashTableGrid& grid() const { return m_grid; }
    /// The colour map's data size (tokens, layers), as drawn.
    QSize heatmapSize() const;
    QCustomPlot* plot() const { return m_plot; }

Q_SIGNALS:
    void followingChanged(bool following);

protected:
    void changeEvent(QEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();
    void applyPalette();
    void showTooltipAt(const QPoint& position);

    QLabel* m_title;
    QLabel* m_mode;
    QToolButton* m_followButton;
    QCustomPlot* m_plot;
    QCPColorMap* m_map;
    QCPColorScale* m_scale;
    QCPGraph* m_misses;
    QCPItemRect* m_tokenOutline;
    HashTableGrid m_grid;
    TracePtr m_shown;
    bool m_following = true;
    int m_outlinedToken = -1;
};

} // namespace sida::ui
