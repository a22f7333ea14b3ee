// SPDX-License-Identifier: MIT
#include "sida/pipeline.h"

#include <nlohmann/json.hpp>

namespace sida {

std::string traceToJson(const BatchTrace& t) {
    nlohmann::json sequences = nlohmann::json::array();
    for (const SequenceTrace& s : t.sequences)
        sequences.push_back({{"request", s.requestId},
                             {"tag", s.tag},
                             {"first_token", s.firstToken},
                             {"token_ids", s.tokenIds},
                             {"pieces", s.pieces},
                             {"label", s.label},
                             {"confidence", s.confidence}});
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerTrace& l : t.layers)
        layers.push_back({{"block", l.block},
                          {"experts", l.numExperts},
                          {"top_k", l.topK},
                          {"predicted", l.predicted},
                          {"predicted_prob", l.predictedProb},
                          {"routed", l.routed},
                          {"router", l.router},
                          {"router_prob", l.routerProb},
                          {"usage", l.usage},
                          {"copied_in", l.copiedIn},
                          {"evicted", l.evicted},
                          {"resident", l.resident},
                          {"host_cached", l.hostCached},
                          {"hits", l.hits},
                          {"misses", l.misses},
                          {"fetched_on_demand", l.fetchedOnDemand}});
    const MemoryTrace& m = t.memory;
    const TimingTrace& time = t.timing;
    const nlohmann::json j = {{"batch", t.batchIndex},
                              {"policy", policyName(t.policy)},
                              {"started_s", t.startedSeconds},
                              {"tokens", t.tokens},
                              {"bytes_copied", t.bytesCopied},
                              {"disk_bytes_read", t.diskBytesRead},
                              {"hash_queue_depth", t.hashQueueDepth},
                              {"notice", t.notice},
                              {"memory",
                               {{"tier", m.tier},
                                {"is_cuda", m.isCuda},
                                {"non_expert_bytes", m.nonExpertBytes},
                                {"resident_expert_bytes", m.residentExpertBytes},
                                {"budget_bytes", m.budgetBytes},
                                {"all_expert_bytes", m.allExpertBytes},
                                {"allocated_bytes", m.allocatedBytes},
                                {"reserved_bytes", m.reservedBytes},
                                {"device_total_bytes", m.deviceTotalBytes},
                                {"device_free_bytes", m.deviceFreeBytes},
                                {"host_tier", m.hostTier},
                                {"io", m.io},
                                {"host_budget_bytes", m.hostBudgetBytes},
                                {"host_resident_bytes", m.hostResidentBytes},
                                {"all_expert_stored_bytes", m.allExpertStoredBytes},
                                {"process_resident_bytes", m.processResidentBytes}}},
                              {"timing_ms",
                               {{"hash_build", time.hashBuildMs},
                                {"wait_for_hash", time.waitForHashMs},
                                {"copy", time.copyMs},
                                {"copy_hidden", time.copyHiddenMs},
                                {"disk_read_exposed", time.diskReadExposedMs},
                                {"disk_read_hidden", time.diskReadHiddenMs},
                                {"compute", time.computeMs},
                                {"total", time.totalMs}}},
                              {"sequences", sequences},
                              {"layers", layers}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace sida
