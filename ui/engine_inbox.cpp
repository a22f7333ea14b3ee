// SPDX-License-Identifier: MIT
#include "engine_inbox.h"

#include <utility>

namespace sida::ui {

void EngineInbox::postResult(uint32_t generation, RequestResult result) {
    result.jobId = appJobId(generation, result.jobId);
    if (generation != m_current.load()) result.batchIndex = 0;
    std::lock_guard lock(m_mutex);
    m_mail.results.push_back(std::move(result));
}

void EngineInbox::postTrace(uint32_t generation, TracePtr trace) {
    if (generation != m_current.load()) return;
    std::lock_guard lock(m_mutex);
    m_mail.traces.push_back(std::move(trace));
}

EngineInbox::Mail EngineInbox::take() {
    Mail mail;
    std::lock_guard lock(m_mutex);
    std::swap(mail, m_mail);
    return mail;
}

} // namespace sida::ui
