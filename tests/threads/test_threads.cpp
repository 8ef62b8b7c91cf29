// Host threads against one device: discovery racing the first allocations, several streams
// driven from several threads, events ordering work across streams and threads, tensors
// released on other threads while their work is queued, and allocation churn next to
// running ops. Run in every build on each backend (threads_<backend>) and under
// ThreadSanitizer on the cpu backend (the tsan preset, scripts/tsan.sh). Shapes are small:
// these check races, not speed.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/device_presence.h"
#include "support/harness.h"

namespace porta::test {
namespace {

std::mutex g_race_mutex;
std::vector<std::string> g_race_failures;  // filled by race_discovery() before gtest runs
int g_race_threads = 0;

// The first call into porta happens on several threads at once: each selects the device,
// allocates, fills and reads back. Runs from main(), before anything else touches porta.
void race_discovery() {
  const char* env = std::getenv("PORTA_TEST_DEVICES");
  const std::string spec = env && *env ? std::string(env).substr(0, std::string(env).find(',')) : "cpu";
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      try {
        const auto& all = devices();  // discovery, on whichever thread gets there first
        (void)all;
        Device d = Device::select(spec);
        Stream s(d);
        Tensor x = Tensor::empty(d, DType::f32, {64 + t});
        ops::fill(s, x, 1.5 + t);
        std::vector<float> back(static_cast<size_t>(64 + t));
        x.copy_to_host(s, back.data());
        for (float v : back)
          if (v != static_cast<float>(1.5 + t))
            throw std::runtime_error("thread " + std::to_string(t) + " read " + std::to_string(v));
      } catch (const Error& e) {
        if (e.code() == Errc::backend_unavailable) return;  // absent: the presence check reports it
        std::lock_guard<std::mutex> lock(g_race_mutex);
        g_race_failures.push_back(e.what());
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(g_race_mutex);
        g_race_failures.push_back(e.what());
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  g_race_threads = static_cast<int>(threads.size());
}

TEST(Threads, DiscoveryRacesFirstAllocations) {
  ASSERT_GT(g_race_threads, 0) << "race_discovery() did not run";
  for (const auto& f : g_race_failures) ADD_FAILURE() << f;
}

// Not a test of porta: run only by tsan_self_check (TSan build), which expects TSan to
// report this race, so a TSan run that could not see races would fail.
TEST(Threads, DISABLED_DeliberateDataRace) {
  int counter = 0;
  std::thread other([&] { ++counter; });
  ++counter;
  other.join();
  EXPECT_GE(counter, 1);
}

class Threads : public DeviceTest {};

std::vector<float> iota(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i % 97);
  return v;
}

// Four threads, each with its own stream, share one read-only input and run a chain of ops.
TEST_P(Threads, StreamsFromSeveralThreads) {
  constexpr int64_t n = 333;
  Stream s0(device());
  const auto host = iota(n, 1.0f);
  const Tensor shared = Tensor::from_host(s0, DType::f32, {n}, host.data());
  std::vector<std::string> failures(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      try {
        Stream s(device());
        for (int it = 0; it < 8; ++it) {
          Tensor a = Tensor::empty(device(), DType::f32, {n}), out = Tensor::empty(device(), DType::f32, {n});
          ops::fill(s, a, static_cast<double>(t * 10 + it));
          ops::add(s, shared, a, out);
          ops::scale(s, out, 2.0f, out);
          std::vector<float> got(n);
          out.copy_to_host(s, got.data());
          for (int64_t i = 0; i < n; ++i)
            if (got[static_cast<size_t>(i)] !=
                2.0f * (host[static_cast<size_t>(i)] + static_cast<float>(t * 10 + it)))
              throw std::runtime_error("thread " + std::to_string(t) + " iteration " + std::to_string(it) +
                                       " element " + std::to_string(i) + " is " +
                                       std::to_string(got[static_cast<size_t>(i)]));
        }
      } catch (const std::exception& e) {
        failures[static_cast<size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& f : failures) EXPECT_EQ(f, "");
}

// A producer thread fills tensors on stream A and records an event after each; a consumer
// thread makes stream B wait on the event and reads the tensor: B must see A's writes.
TEST_P(Threads, EventsOrderStreamsAcrossThreads) {
  constexpr int kItems = 12;
  constexpr int64_t n = 1000;
  struct Item {
    Tensor x;
    std::unique_ptr<Event> ready;
    int value;
  };
  std::mutex m;
  std::condition_variable cv;
  std::deque<Item> queue;
  std::string producer_error, consumer_error;
  std::thread producer([&] {
    try {
      Stream a(device());
      for (int i = 0; i < kItems; ++i) {
        Item item{Tensor::empty(device(), DType::f32, {n}), std::make_unique<Event>(device()), i};
        // A slow-ish chain so the consumer's wait matters: fill, then 3 in-place adds.
        ops::fill(a, item.x, 0.0);
        for (int k = 0; k < 3; ++k) ops::scale(a, item.x, 1.0f, item.x);
        ops::fill(a, item.x, static_cast<double>(i) + 0.25);
        a.record(*item.ready);
        std::lock_guard<std::mutex> lock(m);
        queue.push_back(std::move(item));
        cv.notify_one();
      }
      a.synchronize();
    } catch (const std::exception& e) {
      producer_error = e.what();
      std::lock_guard<std::mutex> lock(m);
      queue.push_back(Item{Tensor(), nullptr, -1});
      cv.notify_one();
    }
  });
  std::thread consumer([&] {
    try {
      Stream b(device());
      for (int got_items = 0; got_items < kItems; ++got_items) {
        Item item;
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return !queue.empty(); });
          item = std::move(queue.front());
          queue.pop_front();
        }
        if (item.value < 0) return;
        b.wait(*item.ready);
        Tensor y = Tensor::empty(device(), DType::f32, {n});
        ops::scale(b, item.x, 2.0f, y);
        std::vector<float> host(n);
        y.copy_to_host(b, host.data());
        for (float v : host)
          if (v != 2.0f * (static_cast<float>(item.value) + 0.25f))
            throw std::runtime_error("item " + std::to_string(item.value) + " read " + std::to_string(v) +
                                     " before the producer's writes");
      }
    } catch (const std::exception& e) {
      consumer_error = e.what();
    }
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(producer_error, "");
  EXPECT_EQ(consumer_error, "");
}

// Work is enqueued on one thread; the tensors' last handles are dropped on another thread
// before the stream is synchronized. The memory must live until the work is done.
TEST_P(Threads, TensorsReleasedOnAnotherThreadWhileQueued) {
  constexpr int64_t n = 513;
  Stream s(device());
  Tensor out = Tensor::empty(device(), DType::f32, {n});
  ops::fill(s, out, 0.0);
  for (int it = 0; it < 6; ++it) {
    Tensor a = Tensor::empty(device(), DType::f32, {n}), b = Tensor::empty(device(), DType::f32, {n});
    ops::fill(s, a, 1.0);
    ops::fill(s, b, static_cast<double>(it));
    ops::add(s, a, b, out);
    std::thread dropper([x = std::move(a), y = std::move(b)]() mutable {
      x = Tensor();
      y = Tensor();
    });
    dropper.join();
    std::vector<float> host(n);
    out.copy_to_host(s, host.data());
    for (float v : host) ASSERT_EQ(v, 1.0f + static_cast<float>(it));
  }
}

// Two threads allocate and free tensors of varied sizes as fast as they can while two
// others run ops on their own streams.
TEST_P(Threads, AllocationChurnBesideRunningOps) {
  std::atomic<bool> stop{false};
  std::vector<std::string> failures(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      try {
        std::vector<Tensor> held;
        for (int i = 0; i < 60 && !stop.load(); ++i) {
          held.push_back(Tensor::empty(device(), DType::f16, {1 + (i * 37 + t * 11) % 2048}));
          if (held.size() > 5) held.erase(held.begin() + (i % 5));
        }
      } catch (const std::exception& e) {
        failures[static_cast<size_t>(t)] = e.what();
      }
    });
  }
  for (int t = 2; t < 4; ++t) {
    threads.emplace_back([&, t] {
      try {
        Stream s(device());
        const auto host = iota(300, static_cast<float>(t));
        for (int it = 0; it < 6; ++it) {
          Tensor x = Tensor::from_host(s, DType::f32, {300}, host.data()),
                 y = Tensor::empty(device(), DType::f32, {300});
          ops::copy(s, x, y);
          std::vector<float> back(300);
          y.copy_to_host(s, back.data());
          if (back != host) throw std::runtime_error("copy on thread " + std::to_string(t) + " differs");
        }
      } catch (const std::exception& e) {
        failures[static_cast<size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  for (const auto& f : failures) EXPECT_EQ(f, "");
}

PORTA_INSTANTIATE_ON_DEVICES(Threads);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Threads);

}  // namespace
}  // namespace porta::test

int main(int argc, char** argv) {
  // Before anything else in the process calls into porta (InitGoogleTest instantiates the
  // device-parameterised suites, which lists the devices).
  porta::test::race_discovery();
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = porta::test::check_device_presence();
  if (rc >= 0) return rc;
  return RUN_ALL_TESTS();
}
