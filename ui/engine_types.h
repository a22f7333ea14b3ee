// SPDX-License-Identifier: MIT
// The engine's value types as Qt metatypes, and the few conversions every view needs.
#pragma once

#include "sida/device.h"
#include "sida/model.h"
#include "sida/pipeline.h"
#include "sida/progress.h"

#include <QMetaType>
#include <QString>

#include <memory>
#include <string>
#include <vector>

namespace sida::ui {

/// A published batch trace: immutable, shared by every view that shows it.
using TracePtr = std::shared_ptr<const BatchTrace>;

inline QString qs(const std::string& text) { return QString::fromStdString(text); }

/// "512 B", "3.2 KiB", "1.50 GiB".
QString formatBytes(double bytes);

/// The unit an axis uses for values up to `maxBytes`.
struct ByteUnit {
    double divisor = 1.0;
    QString name = QStringLiteral("B");
};
ByteUnit byteUnitFor(double maxBytes);

/// A SentencePiece piece as a reader sees it: the word-start mark becomes a space.
QString pieceText(const std::string& piece);
/// The sentence a sequence's pieces spell, without the end-of-sequence mark.
QString sentenceFromPieces(const std::vector<std::string>& pieces);

/// What the user sees for a policy ("SiDA (exact)") and the tooltip that explains it.
QString policyTitle(Policy policy);
QString policyExplanation(Policy policy);
/// Whether the policy needs the model's predictor.
bool policyNeedsPredictor(Policy policy);

/// Registers the types above for queued signals. Call once before any engine signal flows.
void registerMetaTypes();

} // namespace sida::ui

Q_DECLARE_METATYPE(sida::ui::TracePtr)
Q_DECLARE_METATYPE(sida::RequestResult)
Q_DECLARE_METATYPE(sida::ModelInfo)
Q_DECLARE_METATYPE(sida::PipelineOptions)
Q_DECLARE_METATYPE(sida::PipelineStats)
Q_DECLARE_METATYPE(sida::Progress)
Q_DECLARE_METATYPE(sida::DeviceDescription)
