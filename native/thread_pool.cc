#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace dk {
namespace {

class Pool {
 public:
  Pool() { Start(DefaultThreads()); }
  ~Pool() { Stop(); }

  int threads() const { return threads_; }

  void Resize(int n) {
    std::lock_guard<std::mutex> run(run_mu_);
    Stop();
    Start(n);
  }

  void Run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
    if (n == 0) return;
    grain = std::max<size_t>(grain, 1);
    const size_t chunks = (n + grain - 1) / grain;
    if (chunks == 1 || threads_ == 1) {
      fn(0, n);
      return;
    }
    std::lock_guard<std::mutex> run(run_mu_);
    {
      // A worker still inside Work() of the previous job reads this state: wait until none is.
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return active_ == 0; });
      fn_ = &fn;
      n_ = n;
      grain_ = grain;
      chunks_ = chunks;
      next_.store(0);
      done_ = 0;
      ++generation_;
    }
    cv_.notify_all();
    const size_t mine = Work();
    std::unique_lock<std::mutex> lk(mu_);
    done_ += mine;
    done_cv_.wait(lk, [&] { return done_ == chunks_ && active_ == 0; });
    fn_ = nullptr;
  }

 private:
  static int DefaultThreads() {
    const unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : static_cast<int>(std::min(h, 256u));
  }

  // Takes chunks until none are left; returns how many this thread did.
  size_t Work() {
    size_t count = 0;
    for (;;) {
      const size_t c = next_.fetch_add(1);
      if (c >= chunks_) break;
      const size_t b = c * grain_;
      const size_t e = std::min(n_, b + grain_);
      (*fn_)(b, e);
      ++count;
    }
    return count;
  }

  void Loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        ++active_;
      }
      const size_t mine = Work();
      std::lock_guard<std::mutex> lk(mu_);
      done_ += mine;
      --active_;
      done_cv_.notify_all();
    }
  }

  void Start(int n) {
    threads_ = std::max(1, n);
    stop_ = false;
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex run_mu_;  // one ParallelFor (or resize) at a time
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0, grain_ = 1, chunks_ = 0, done_ = 0, active_ = 0;
  std::atomic<size_t> next_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
  int threads_ = 1;
};

Pool& GetPool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock.
  static Pool* pool = new Pool();
  return *pool;
}

}  // namespace

int GetThreads() { return GetPool().threads(); }
void SetThreads(int n) { GetPool().Resize(std::min(256, std::max(1, n))); }
void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) { GetPool().Run(n, grain, fn); }

}  // namespace dk
