// SPDX-License-Identifier: MIT
// The CPU copy engine: copies run in order on its thread, a copy someone needs before the engine
// reaches it runs on that caller's thread, errors reach the caller, and the engine finishes what
// was queued before it stops. Also run under ThreadSanitizer (label `pipeline`).
#include "serving/copy_engine.h"

#include <QtTest>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

using sida::detail::CopyEngine;
using sida::detail::CopyTicket;

class CopyEngineTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void copiesRunInOrderOnTheEngine();
    void aQueuedCopyRunsOnTheThreadThatNeedsIt();
    void errorsReachTheCaller();
    void stoppingFinishesQueuedCopies();
};

void CopyEngineTest::copiesRunInOrderOnTheEngine() {
    CopyEngine engine;
    std::vector<int> order; // written by the copies, read after waiting for them
    std::vector<std::thread::id> threads(50);
    std::atomic<int> finished{0};
    std::vector<std::shared_ptr<CopyTicket>> tickets;
    for (int i = 0; i < 50; ++i)
        tickets.push_back(engine.submit([&, i] {
            order.push_back(i);
            threads[static_cast<size_t>(i)] = std::this_thread::get_id();
            ++finished;
        }));
    // Nobody waits until the engine has run them all: they are the engine's, in order.
    QTRY_COMPARE_WITH_TIMEOUT(finished.load(), 50, 60000);
    for (const auto& t : tickets) t->wait();
    QCOMPARE(order.size(), size_t(50));
    for (int i = 0; i < 50; ++i) {
        QCOMPARE(order[static_cast<size_t>(i)], i);
        QVERIFY(threads[static_cast<size_t>(i)] != std::this_thread::get_id());
    }
    // A second wait reports nothing more.
    const CopyTicket::Waited again = tickets.front()->wait();
    QCOMPARE(again.waitedMs, 0.0);
    QCOMPARE(again.hiddenMs, 0.0);
}

void CopyEngineTest::aQueuedCopyRunsOnTheThreadThatNeedsIt() {
    CopyEngine engine;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> firstStarted{false};
    auto first = engine.submit([&] {
        firstStarted = true;
        released.wait(); // keeps the engine busy
    });
    std::thread::id ranOn;
    auto second = engine.submit([&] { ranOn = std::this_thread::get_id(); });
    while (!firstStarted) std::this_thread::yield();
    const CopyTicket::Waited waited = second->wait(); // the engine is stuck on `first`
    QCOMPARE(ranOn, std::this_thread::get_id());
    QCOMPARE(waited.hiddenMs, 0.0);
    release.set_value();
    first->wait();
}

void CopyEngineTest::errorsReachTheCaller() {
    CopyEngine engine;
    auto failing = engine.submit([] { throw std::runtime_error("read past the end of model.safetensors"); });
    auto fine = engine.submit([] {});
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, failing->wait());
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, failing->wait()); // every wait says so
    fine->wait();                                                  // and the engine carried on
}

void CopyEngineTest::stoppingFinishesQueuedCopies() {
    std::atomic<int> done{0};
    std::vector<std::shared_ptr<CopyTicket>> tickets;
    {
        CopyEngine engine;
        for (int i = 0; i < 200; ++i) tickets.push_back(engine.submit([&] { ++done; }));
    }
    QCOMPARE(done.load(), 200);
    for (const auto& t : tickets) t->wait(); // all done: returns at once
}

QTEST_GUILESS_MAIN(CopyEngineTest)
#include "tst_copy_engine.moc"
