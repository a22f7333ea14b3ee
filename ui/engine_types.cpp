// SPDX-License-Identifier: MIT
#include "engine_types.h"

#include <QList>

#include <array>
#include <cmath>

namespace sida::ui {

namespace {

constexpr std::array<const char*, 5> kUnits{"B", "KiB", "MiB", "GiB", "TiB"};

} // namespace

ByteUnit byteUnitFor(double maxBytes) {
    ByteUnit unit;
    size_t index = 0;
    while (index + 1 < kUnits.size() && maxBytes >= 1024.0 * unit.divisor) {
        unit.divisor *= 1024.0;
        ++index;
    }
    unit.name = QString::fromLatin1(kUnits[index]);
    return unit;
}

QString formatBytes(double bytes) {
    const ByteUnit unit = byteUnitFor(std::abs(bytes));
    if (unit.divisor == 1.0) return QString::number(static_cast<qint64>(bytes)) + QStringLiteral(" B");
    const double value = bytes / unit.divisor;
    return QString::number(value, 'f', value < 10.0 ? 2 : 1) + u' ' + unit.name;
}

QString pieceText(const std::string& piece) {
    // U+2581 (LOWER ONE EIGHTH BLOCK) marks the start of a word in SentencePiece vocabularies.
    QString text = qs(piece);
    text.replace(QChar(0x2581), QChar(u' '));
    return text;
}

QString sentenceFromPieces(const std::vector<std::string>& pieces) {
    QString sentence;
    for (const std::string& piece : pieces) {
        if (piece == "</s>") continue;
        sentence += pieceText(piece);
    }
    return sentence.trimmed();
}

QString policyTitle(Policy policy) {
    switch (policy) {
    case Policy::Standard:
        return QStringLiteral("Standard");
    case Policy::OnDemand:
        return QStringLiteral("On demand");
    case Policy::Sida:
        return QStringLiteral("SiDA");
    case Policy::SidaExact:
        return QStringLiteral("SiDA (exact)");
    case Policy::Oracle:
        return QStringLiteral("Oracle");
    }
    return {};
}

QString policyExplanation(Policy policy) {
    switch (policy) {
    case Policy::Standard:
        return QStringLiteral("Every expert stays resident and the router decides: the reference.");
    case Policy::OnDemand:
        return QStringLiteral("The router decides; experts it needs that are not resident are fetched "
                              "while the layer waits, and cached under the budget.");
    case Policy::Sida:
        return QStringLiteral("The predictor's hash table decides which experts run, ahead of time, "
                              "so routers are skipped (the paper's method).");
    case Policy::SidaExact:
        return QStringLiteral("The hash table prefetches; a shadow router decides and misses are "
                              "fetched on demand, so the output equals Standard.");
    case Policy::Oracle:
        return QStringLiteral("The hash table is the router's own choice: the best SiDA could do.");
    }
    return {};
}

bool policyNeedsPredictor(Policy policy) { return policy == Policy::Sida || policy == Policy::SidaExact; }

void registerMetaTypes() {
    qRegisterMetaType<TracePtr>();
    qRegisterMetaType<QList<TracePtr>>();
    qRegisterMetaType<RequestResult>();
    qRegisterMetaType<QList<RequestResult>>();
    qRegisterMetaType<ModelInfo>();
    qRegisterMetaType<PipelineOptions>();
    qRegisterMetaType<PipelineStats>();
    qRegisterMetaType<Progress>();
    qRegisterMetaType<DeviceDescription>();
    qRegisterMetaType<std::vector<DeviceDescription>>();
}

} // namespace sida::ui
