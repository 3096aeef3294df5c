// CUDA Griffin-Lim (float32, like torchaudio on a GPU). FFTs by cuFFT, loaded with dlopen at the
// first call rather than linked: the addon then loads on machines without the cuFFT library (or
// without a GPU) and reports CUDA Griffin-Lim as unavailable there instead of failing to load.
// Set DIFFUSEKIT_CUFFT to a libcufft.so path when it is not on the loader's search path.
//
// One iteration: compose S·angles → batched C2R → overlap-add gather (÷ window envelope) →
// frame extraction with reflect padding and window → batched R2C → momentum + normalise.
// Frames are batched in one cuFFT call each way; device buffers and plans are cached for the
// last geometry so repeated calls (a Riffusion batch, a benchmark) pay for them once.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "audio_griffin_lim.h"

namespace dk {
namespace audio {

namespace {

// The few cuFFT entry points used, declared here (stable C ABI) so no cuFFT header is needed.
typedef int cufftHandle;
typedef int cufftResult;
constexpr int kCufftR2C = 0x2a;
constexpr int kCufftC2R = 0x2c;

struct Cufft {
  bool ok = false;
  std::string error;
  cufftResult (*planMany)(cufftHandle*, int, int*, int*, int, int, int*, int, int, int, int) = nullptr;
  cufftResult (*execR2C)(cufftHandle, float*, float2*) = nullptr;
  cufftResult (*execC2R)(cufftHandle, float2*, float*) = nullptr;
  cufftResult (*setStream)(cufftHandle, cudaStream_t) = nullptr;
  cufftResult (*destroy)(cufftHandle) = nullptr;
};

const Cufft& GetCufft() {
  static Cufft c = [] {
    Cufft r;
    std::vector<std::string> names;
    if (const char* env = std::getenv("DIFFUSEKIT_CUFFT")) names.push_back(env);
    for (const char* n : {"libcufft.so.12", "libcufft.so.13", "libcufft.so.11", "libcufft.so"}) names.push_back(n);
    void* lib = nullptr;
    std::string tried;
    for (const std::string& n : names) {
      lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
      const char* e = dlerror();
      tried += "\n  " + n + ": " + (e ? e : "not found");
    }
    if (!lib) {
      r.error = "cuFFT (libcufft.so) could not be loaded; set DIFFUSEKIT_CUFFT to its path. Tried:" + tried;
      return r;
    }
    r.planMany = reinterpret_cast<decltype(r.planMany)>(dlsym(lib, "cufftPlanMany"));
    r.execR2C = reinterpret_cast<decltype(r.execR2C)>(dlsym(lib, "cufftExecR2C"));
    r.execC2R = reinterpret_cast<decltype(r.execC2R)>(dlsym(lib, "cufftExecC2R"));
    r.setStream = reinterpret_cast<decltype(r.setStream)>(dlsym(lib, "cufftSetStream"));
    r.destroy = reinterpret_cast<decltype(r.destroy)>(dlsym(lib, "cufftDestroy"));
    if (!r.planMany || !r.execR2C || !r.execC2R || !r.setStream || !r.destroy) {
      r.error = "libcufft.so loaded but lacks cufftPlanMany/cufftExecR2C/cufftExecC2R/cufftSetStream/cufftDestroy";
      return r;
    }
    r.ok = true;
    return r;
  }();
  return c;
}

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA Griffin-Lim: ") + what + ": " + cudaGetErrorString(e));
}
void CheckFft(cufftResult r, const char* what) {
  if (r != 0) throw std::runtime_error(std::string("CUDA Griffin-Lim: ") + what + " failed (cuFFT error " + std::to_string(r) + ")");
}

__global__ void ComposeKernel(const float* __restrict__ s, const float* __restrict__ ar, const float* __restrict__ ai, float2* __restrict__ z,
                              size_t total, int bins, int nyq) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int k = static_cast<int>(i % bins);
  const float m = s[i];
  z[i] = make_float2(m * ar[i], (k == 0 || k == nyq) ? 0.f : m * ai[i]);
}

// Draw d of the mulberry32 stream of `seed` (griffin-lim.ts's initialPhases): the state after d+1
// steps is seed + (d+1)·0x6d2b79f5 (mod 2^32), so every draw can be computed independently.
__host__ __device__ inline double Mulberry32Draw(uint32_t seed, uint64_t d) {
  uint32_t t = seed + static_cast<uint32_t>((d + 1) * 0x6d2b79f5ull);
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return static_cast<double>(t ^ (t >> 14)) / 4294967296.0;
}

// raw magnitude [bins][frames] → s = raw^(1/power) frame-major, and the initial phases.
__global__ void PrepareKernel(const float* __restrict__ raw, float* __restrict__ s, float* __restrict__ ar, float* __restrict__ ai, size_t total,
                              int bins, int frames, double inv_power, int rand_init, uint32_t seed) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;  // frame-major: t·bins + k
  if (i >= total) return;
  const size_t t = i / bins;
  const size_t k = i % bins;
  const size_t m = k * frames + t;  // bin-major index, the order the draws are made in
  const double v = raw[m];
  s[i] = static_cast<float>(inv_power == 1.0 ? v : pow(v, inv_power));
  if (rand_init) {
    ar[i] = static_cast<float>(Mulberry32Draw(seed, 2 * static_cast<uint64_t>(m)));
    ai[i] = static_cast<float>(Mulberry32Draw(seed, 2 * static_cast<uint64_t>(m) + 1));
  } else {
    ar[i] = 1.f;
    ai[i] = 0.f;
  }
}

// y[i] = Σ_t frame_t[p − t·hop]·w / (n·env[p]) with p = i + pad; frames in ascending order.
__global__ void OverlapAddKernel(const float* __restrict__ frames, const float* __restrict__ w, const float* __restrict__ scale, float* __restrict__ y,
                                 int length, int n, int hop, int nframes, int pad, int full, int lo, int hi) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= length) return;
  const int p = i + pad;
  if (p >= full) {
    y[i] = 0.f;
    return;
  }
  const int t_hi = min(nframes - 1, p / hop);
  const int t_lo = p + 1 > n ? (p + 1 - n + hop - 1) / hop : 0;
  float acc = 0.f;
  for (int t = t_lo; t <= t_hi; t++) {
    const int j = p - t * hop;
    if (j >= lo && j < hi) acc += frames[static_cast<size_t>(t) * n + j] * w[j];
  }
  y[i] = acc * scale[p];
}

// Windowed frames of the reflect-padded signal.
__global__ void FramesKernel(const float* __restrict__ y, const float* __restrict__ w, float* __restrict__ frames, size_t total, int n, int hop,
                             int pad, int length) {
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= total) return;
  const int t = static_cast<int>(idx / n);
  const int j = static_cast<int>(idx % n);
  const float wj = w[j];
  if (wj == 0.f) {
    frames[idx] = 0.f;
    return;
  }
  int q = t * hop + j - pad;
  if (q < 0) q = -q;
  else if (q >= length) q = 2 * length - 2 - q;
  frames[idx] = y[q] * wj;
}

__global__ void MomentumKernel(const float2* __restrict__ rebuilt, const float2* __restrict__ prev, float* __restrict__ ar, float* __restrict__ ai,
                               size_t total, float alpha) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const float2 r = rebuilt[i];
  const float2 q = prev[i];
  const float xr = r.x - alpha * q.x;
  const float xi = r.y - alpha * q.y;
  const float d = sqrtf(xr * xr + xi * xi) + 1e-16f;
  ar[i] = xr / d;
  ai[i] = xi / d;
}

// Device state for one geometry (n, hop, win, frames, length), kept between calls.
struct State {
  size_t n = 0, hop = 0, win = 0, frames = 0, length = 0;
  cufftHandle r2c = 0, c2r = 0;
  bool plans = false;
  cudaStream_t stream = nullptr;
  float *s = nullptr, *ar = nullptr, *ai = nullptr, *frames_buf = nullptr, *y = nullptr, *w = nullptr, *scale = nullptr, *raw = nullptr;
  float2 *z = nullptr, *reb_a = nullptr, *reb_b = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  void Release() {
    const Cufft& cf = GetCufft();
    if (plans) {
      cf.destroy(r2c);
      cf.destroy(c2r);
      plans = false;
    }
    for (void* p : {static_cast<void*>(s), static_cast<void*>(ar), static_cast<void*>(ai), static_cast<void*>(frames_buf), static_cast<void*>(y),
                    static_cast<void*>(w), static_cast<void*>(scale), static_cast<void*>(z), static_cast<void*>(reb_a), static_cast<void*>(reb_b),
                    static_cast<void*>(raw)}) {
      if (p) cudaFree(p);
    }
    s = ar = ai = frames_buf = y = w = scale = raw = nullptr;
    z = reb_a = reb_b = nullptr;
    n = 0;
  }
};

std::mutex g_mu;
State g_state;
double g_last_ms = 0;

template <class T>
void Alloc(T** p, size_t count, const char* what) {
  Check(cudaMalloc(reinterpret_cast<void**>(p), count * sizeof(T)), what);
}

void Prepare(State& st, const GriffinLimParams& p) {
  if (st.n == p.n_fft && st.hop == p.hop && st.win == p.win && st.frames == p.frames && st.length == p.length) return;
  st.Release();
  const Cufft& cf = GetCufft();
  if (!st.stream) Check(cudaStreamCreateWithFlags(&st.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  if (!st.start) {
    Check(cudaEventCreate(&st.start), "cudaEventCreate");
    Check(cudaEventCreate(&st.stop), "cudaEventCreate");
  }
  const size_t n = p.n_fft, bins = p.bins(), frames = p.frames, total = bins * frames;
  const size_t full = n + p.hop * (frames - 1);
  Alloc(&st.s, total, "cudaMalloc");
  Alloc(&st.raw, total, "cudaMalloc");
  Alloc(&st.ar, total, "cudaMalloc");
  Alloc(&st.ai, total, "cudaMalloc");
  Alloc(&st.z, total, "cudaMalloc");
  Alloc(&st.reb_a, total, "cudaMalloc");
  Alloc(&st.reb_b, total, "cudaMalloc");
  Alloc(&st.frames_buf, frames * n, "cudaMalloc");
  Alloc(&st.y, p.length, "cudaMalloc");
  Alloc(&st.w, n, "cudaMalloc");
  Alloc(&st.scale, full, "cudaMalloc");
  int nn = static_cast<int>(n);
  CheckFft(cf.planMany(&st.r2c, 1, &nn, nullptr, 1, nn, nullptr, 1, static_cast<int>(bins), kCufftR2C, static_cast<int>(frames)), "cufftPlanMany(R2C)");
  cufftResult r = cf.planMany(&st.c2r, 1, &nn, nullptr, 1, static_cast<int>(bins), nullptr, 1, nn, kCufftC2R, static_cast<int>(frames));
  if (r != 0) {
    cf.destroy(st.r2c);
    CheckFft(r, "cufftPlanMany(C2R)");
  }
  st.plans = true;
  CheckFft(cf.setStream(st.r2c, st.stream), "cufftSetStream");
  CheckFft(cf.setStream(st.c2r, st.stream), "cufftSetStream");
  // Window and 1/(n·envelope), computed in double on the host.
  const std::vector<double> w = PaddedHann(n, p.win);
  std::vector<double> env(full, 0.0);
  for (size_t t = 0; t < frames; t++)
    for (size_t i = 0; i < n; i++) env[t * p.hop + i] += w[i] * w[i];
  std::vector<float> wf(n), scale(full);
  for (size_t i = 0; i < n; i++) wf[i] = static_cast<float>(w[i]);
  for (size_t i = 0; i < full; i++) scale[i] = env[i] > 1e-11 ? static_cast<float>(1.0 / (static_cast<double>(n) * env[i])) : 0.f;
  Check(cudaMemcpy(st.w, wf.data(), n * sizeof(float), cudaMemcpyHostToDevice), "upload window");
  Check(cudaMemcpy(st.scale, scale.data(), full * sizeof(float), cudaMemcpyHostToDevice), "upload envelope");
  st.n = n;
  st.hop = p.hop;
  st.win = p.win;
  st.frames = frames;
  st.length = p.length;
}

unsigned Blocks(size_t count, unsigned threads) { return static_cast<unsigned>((count + threads - 1) / threads); }

}  // namespace

bool GriffinLimCudaAvailable(std::string* why) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    if (why) *why = e != cudaSuccess ? std::string("no CUDA device: ") + cudaGetErrorString(e) : "no CUDA device";
    cudaGetLastError();
    return false;
  }
  const Cufft& cf = GetCufft();
  if (!cf.ok) {
    if (why) *why = cf.error;
    return false;
  }
  return true;
}

double GriffinLimCudaLastMs() { return g_last_ms; }

void GriffinLimCuda(const float* magnitude, const GriffinLimParams& p, float* out) {
  CheckGriffinLimParams(p, p.bins() * p.frames, p.length);
  std::string why;
  if (!GriffinLimCudaAvailable(&why)) throw std::runtime_error("CUDA Griffin-Lim unavailable: " + why);
  std::lock_guard<std::mutex> lock(g_mu);
  State& st = g_state;
  try {
    Prepare(st, p);
  } catch (...) {
    st.Release();
    throw;
  }
  const Cufft& cf = GetCufft();
  const size_t n = p.n_fft, bins = p.bins(), frames = p.frames, total = bins * frames;
  // One upload of the magnitude as given ([bins][frames]); the power, the transpose to cuFFT's
  // frame-major batches and the initial phases are computed on the device.
  cudaStream_t q = st.stream;
  Check(cudaMemcpyAsync(st.raw, magnitude, total * sizeof(float), cudaMemcpyHostToDevice, q), "upload magnitude");
  Check(cudaMemsetAsync(st.reb_b, 0, total * sizeof(float2), q), "cudaMemset");
  Check(cudaEventRecord(st.start, q), "cudaEventRecord");
  const unsigned T = 256;
  PrepareKernel<<<Blocks(total, T), T, 0, q>>>(st.raw, st.s, st.ar, st.ai, total, static_cast<int>(bins), static_cast<int>(frames), 1.0 / p.power,
                                                p.rand_init ? 1 : 0, p.seed);
  const int nyq = n % 2 == 0 ? static_cast<int>(n / 2) : -1;
  const std::vector<double> w = PaddedHann(n, p.win);
  int lo = 0, hi = static_cast<int>(n);
  while (lo < hi && w[lo] == 0) lo++;
  while (hi > lo && w[hi - 1] == 0) hi--;
  const int full = static_cast<int>(n + p.hop * (frames - 1));
  const int pad = static_cast<int>(n / 2);
  const float alpha = static_cast<float>(p.momentum / (1.0 + p.momentum));
  auto synthesize = [&]() {
    ComposeKernel<<<Blocks(total, T), T, 0, q>>>(st.s, st.ar, st.ai, st.z, total, static_cast<int>(bins), nyq);
    CheckFft(cf.execC2R(st.c2r, st.z, st.frames_buf), "cufftExecC2R");
    OverlapAddKernel<<<Blocks(p.length, T), T, 0, q>>>(st.frames_buf, st.w, st.scale, st.y, static_cast<int>(p.length), static_cast<int>(n),
                                                        static_cast<int>(p.hop), static_cast<int>(frames), pad, full, lo, hi);
  };
  float2* cur = st.reb_a;
  float2* prev = st.reb_b;
  for (size_t it = 0; it < p.iterations; it++) {
    synthesize();
    FramesKernel<<<Blocks(frames * n, T), T, 0, q>>>(st.y, st.w, st.frames_buf, frames * n, static_cast<int>(n), static_cast<int>(p.hop), pad,
                                                      static_cast<int>(p.length));
    CheckFft(cf.execR2C(st.r2c, st.frames_buf, cur), "cufftExecR2C");
    MomentumKernel<<<Blocks(total, T), T, 0, q>>>(cur, prev, st.ar, st.ai, total, alpha);
    std::swap(cur, prev);
  }
  synthesize();
  Check(cudaGetLastError(), "kernel launch");
  Check(cudaEventRecord(st.stop, q), "cudaEventRecord");
  Check(cudaMemcpyAsync(out, st.y, p.length * sizeof(float), cudaMemcpyDeviceToHost, q), "download");
  Check(cudaStreamSynchronize(q), "cudaStreamSynchronize");
  float ms = 0;
  Check(cudaEventElapsedTime(&ms, st.start, st.stop), "cudaEventElapsedTime");
  g_last_ms = ms;
}

}  // namespace audio
}  // namespace dk
