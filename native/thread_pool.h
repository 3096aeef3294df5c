// A small fixed thread pool for the CPU kernels. ParallelFor splits [0, n) into chunks of `grain`
// elements (cache-sized blocks) that the workers and the calling thread take in turn. Results never
// depend on the thread count: kernels compute each element independently, and reductions combine
// per-chunk partial sums in chunk order.
#pragma once
#include <cstddef>
#include <functional>

namespace dk {

// Threads used by ParallelFor (workers + the caller). Default: hardware threads.
int GetThreads();
// Sets the thread count (1..256). Waits for a running ParallelFor to finish first.
void SetThreads(int n);
// Runs fn(begin, end) over chunks of [0, n). Concurrent callers (main thread and AsyncWorkers) are
// served one at a time. fn must not throw.
void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

// Chunk size for streaming kernels: 16K floats = 64 KiB per array, a few arrays fit in L2.
constexpr size_t kStreamGrain = 16384;

}  // namespace dk
