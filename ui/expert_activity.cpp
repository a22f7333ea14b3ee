// SPDX-License-Identifier: MIT
#include "expert_activity.h"

#include <algorithm>

namespace sida::ui {

namespace {

void markAll(std::vector<bool>& flags, const std::vector<int32_t>& experts) {
    std::fill(flags.begin(), flags.end(), false);
    for (int32_t e : experts)
        if (e >= 0 && static_cast<size_t>(e) < flags.size()) flags[static_cast<size_t>(e)] = true;
}

} // namespace

void ExpertActivity::reset(const std::vector<int64_t>& blocks, int experts) {
    m_experts = std::max(experts, 0);
    m_batches = 0;
    m_layers.assign(blocks.size(), Layer{});
    const auto n = static_cast<size_t>(m_experts);
    for (size_t l = 0; l < blocks.size(); ++l) {
        Layer& layer = m_layers[l];
        layer.block = blocks[l];
        layer.usage.assign(n, 0);
        layer.lastUsage.assign(n, 0);
        layer.resident.assign(n, false);
        layer.hostCached.assign(n, false);
        layer.copiedIn.assign(n, false);
        layer.evicted.assign(n, false);
    }
}

void ExpertActivity::add(const BatchTrace& trace) {
    if (m_layers.size() != trace.layers.size() ||
        (!trace.layers.empty() && trace.layers.front().numExperts != m_experts)) {
        std::vector<int64_t> blocks;
        for (const LayerTrace& layer : trace.layers) blocks.push_back(layer.block);
        reset(blocks, trace.layers.empty() ? 0 : trace.layers.front().numExperts);
    }
    ++m_batches;
    m_isCuda = trace.memory.isCuda;
    if (!trace.memory.tier.empty()) m_poolName = qs(trace.memory.tier);
    if (!trace.memory.hostTier.empty()) m_hostName = qs(trace.memory.hostTier);
    for (size_t l = 0; l < trace.layers.size(); ++l) {
        const LayerTrace& source = trace.layers[l];
        Layer& layer = m_layers[l];
        std::fill(layer.lastUsage.begin(), layer.lastUsage.end(), 0);
        for (size_t e = 0; e < source.usage.size() && e < layer.usage.size(); ++e) {
            layer.lastUsage[e] = source.usage[e];
            layer.usage[e] += source.usage[e];
            layer.maxUsage = std::max(layer.maxUsage, layer.usage[e]);
        }
        markAll(layer.resident, source.resident);
        markAll(layer.hostCached, source.hostCached);
        markAll(layer.copiedIn, source.copiedIn);
        markAll(layer.evicted, source.evicted);
    }
}

double ExpertActivity::usageShare(int layer, int expert) const {
    const Layer& l = m_layers.at(static_cast<size_t>(layer));
    if (l.maxUsage == 0) return 0.0;
    return static_cast<double>(l.usage.at(static_cast<size_t>(expert))) / static_cast<double>(l.maxUsage);
}

ExpertTier ExpertActivity::tier(int layer, int expert) const {
    const Layer& l = m_layers.at(static_cast<size_t>(layer));
    const auto e = static_cast<size_t>(expert);
    if (l.resident.at(e)) return ExpertTier::Pool;
    return l.hostCached.at(e) ? ExpertTier::Host : ExpertTier::Disk;
}

int ExpertActivity::tierCount(int layer, ExpertTier which) const {
    int count = 0;
    for (int e = 0; e < m_experts; ++e) count += tier(layer, e) == which ? 1 : 0;
    return count;
}

QString ExpertActivity::tierText(int layer, int expert) const {
    // A trace without tier names (none seen yet) still gets a sentence, just without the name.
    auto named = [](const QString& tier, const QString& name) {
        return name.isEmpty() ? tier : QStringLiteral("%1 (%2)").arg(tier, name);
    };
    switch (tier(layer, expert)) {
    case ExpertTier::Pool: {
        const bool alsoHost =
            m_layers.at(static_cast<size_t>(layer)).hostCached.at(static_cast<size_t>(expert));
        return QStringLiteral("In the %1%2")
            .arg(named(QStringLiteral("device pool"), m_poolName),
                 alsoHost ? QStringLiteral(", also in the host cache") : QString());
    }
    case ExpertTier::Host:
        return QStringLiteral("In the %1 only: copied into the pool when needed")
            .arg(named(QStringLiteral("host cache"), m_hostName));
    case ExpertTier::Disk:
        break;
    }
    return QStringLiteral("On disk only: read from the checkpoint when needed");
}

QString ExpertActivity::describe(int layer, int expert) const {
    const Layer& l = m_layers.at(static_cast<size_t>(layer));
    const auto e = static_cast<size_t>(expert);
    int64_t total = 0;
    for (int64_t u : l.usage) total += u;
    QString text = QStringLiteral("<b>Expert %1</b>, layer %2 (block %3)<br>%4<br>")
                       .arg(expert)
                       .arg(layer)
                       .arg(l.block)
                       .arg(tierText(layer, expert));
    text += QStringLiteral("Used by %1 tokens so far (%2% of the layer's), %3 in the last batch")
                .arg(l.usage[e])
                .arg(total == 0 ? 0.0 : 100.0 * static_cast<double>(l.usage[e]) / static_cast<double>(total),
                     0, 'f', 1)
                .arg(l.lastUsage[e]);
    if (l.copiedIn[e]) text += QStringLiteral("<br>Copied in by the last batch");
    if (l.evicted[e]) text += QStringLiteral("<br>Evicted during the last batch");
    return text;
}

} // namespace sida::ui
