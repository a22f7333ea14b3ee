// SPDX-License-Identifier: MIT
// Draws a progress bar in a table cell from a model's progress role (0..1).
#pragma once

#include <QStyledItemDelegate>

namespace sida::ui {

class ProgressDelegate : public QStyledItemDelegate {
    Q_OBJECT

public:
    ProgressDelegate(int progressRole, QObject* parent = nullptr);
    void paint(QPainter* painter, const QStyleOptionViewItem& option,
               const QModelIndex& index) const override;

private:
    int m_role;
};

} // namespace sida::ui
