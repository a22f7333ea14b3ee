// SPDX-License-Identifier: MIT
#include "theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>

namespace sida::ui {

namespace {

QPalette& systemPalette() {
    static QPalette palette;
    return palette;
}

QString& systemStyleName() {
    static QString name;
    return name;
}

QPalette darkPalette() {
    QPalette p;
    const QColor window(0x20, 0x23, 0x28);
    const QColor base(0x17, 0x19, 0x1D);
    const QColor text(0xE6, 0xE8, 0xEB);
    const QColor disabled(0x7A, 0x80, 0x88);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x1E, 0x21, 0x26));
    p.setColor(QPalette::ToolTipBase, QColor(0x2B, 0x2F, 0x36));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(0x2B, 0x2F, 0x36));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xFF, 0x6B, 0x6B));
    p.setColor(QPalette::Highlight, QColor(0x3D, 0x8B, 0xD9));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x6C, 0xB4, 0xFF));
    p.setColor(QPalette::Mid, QColor(0x3A, 0x3F, 0x47));
    p.setColor(QPalette::Dark, QColor(0x12, 0x14, 0x17));
    p.setColor(QPalette::Light, QColor(0x3F, 0x44, 0x4C));
    for (QPalette::ColorRole role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    return p;
}

} // namespace

void captureSystemTheme() {
    systemPalette() = QApplication::palette();
    systemStyleName() = QApplication::style()->name();
}

void applyTheme(Theme theme) {
    if (theme == Theme::System) {
        if (!systemStyleName().isEmpty()) QApplication::setStyle(QStyleFactory::create(systemStyleName()));
        QApplication::setPalette(systemPalette());
        return;
    }
    // Fusion draws every widget from the palette, so both themes are complete on any desktop.
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    QApplication::setPalette(theme == Theme::Dark ? darkPalette() : QApplication::style()->standardPalette());
}

} // namespace sida::ui
