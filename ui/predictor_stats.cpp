// SPDX-License-Identifier: MIT
#include "predictor_stats.h"

#include <algorithm>

namespace sida::ui {

double PredictorStats::Layer::top1Rate() const {
    return compared == 0 ? 0.0 : static_cast<double>(top1Hits) / static_cast<double>(compared);
}

double PredictorStats::Layer::topKRate() const {
    return compared == 0 ? 0.0 : static_cast<double>(topKHits) / static_cast<double>(compared);
}

int64_t PredictorStats::Layer::count(int predicted, int router) const {
    if (predicted < 0 || router < 0 || predicted >= experts || router >= experts) return 0;
    return confusion[static_cast<size_t>(predicted) * static_cast<size_t>(experts) +
                     static_cast<size_t>(router)];
}

void PredictorStats::clear() { m_layers.clear(); }

void PredictorStats::add(const BatchTrace& trace) {
    if (m_layers.size() != trace.layers.size()) m_layers.assign(trace.layers.size(), Layer{});
    for (size_t l = 0; l < trace.layers.size(); ++l) {
        const LayerTrace& source = trace.layers[l];
        Layer& layer = m_layers[l];
        if (layer.experts != source.numExperts) {
            layer = Layer{};
            layer.experts = source.numExperts;
            layer.confusion.assign(
                static_cast<size_t>(source.numExperts) * static_cast<size_t>(source.numExperts), 0);
        }
        layer.block = source.block;
        const auto k = static_cast<size_t>(std::max(source.topK, 0));
        if (k == 0 || source.predicted.empty() || source.router.empty()) continue;
        layer.topK = source.topK;
        const size_t tokens = std::min(source.router.size(), source.predicted.size() / k);
        for (size_t t = 0; t < tokens; ++t) {
            const int32_t router = source.router[t];
            const auto first = source.predicted.begin() + static_cast<ptrdiff_t>(t * k);
            const int32_t predicted = *first;
            if (router < 0 || predicted < 0 || router >= layer.experts || predicted >= layer.experts)
                continue;
            ++layer.compared;
            layer.top1Hits += predicted == router ? 1 : 0;
            layer.topKHits += std::find(first, first + static_cast<ptrdiff_t>(k), router) !=
                              first + static_cast<ptrdiff_t>(k);
            ++layer.confusion[static_cast<size_t>(predicted) * static_cast<size_t>(layer.experts) +
                              static_cast<size_t>(router)];
        }
    }
}

int64_t PredictorStats::compared() const {
    int64_t total = 0;
    for (const Layer& layer : m_layers) total += layer.compared;
    return total;
}

double PredictorStats::top1Rate() const {
    double sum = 0.0;
    int counted = 0;
    for (const Layer& layer : m_layers) {
        if (layer.compared == 0) continue;
        sum += layer.top1Rate();
        ++counted;
    }
    return counted == 0 ? -1.0 : sum / counted;
}

double PredictorStats::topKRate() const {
    double sum = 0.0;
    int counted = 0;
    for (const Layer& layer : m_layers) {
        if (layer.compared == 0) continue;
        sum += layer.topKRate();
        ++counted;
    }
    return counted == 0 ? -1.0 : sum / counted;
}

} // namespace sida::ui
