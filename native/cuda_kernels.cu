// CUDA versions of the kernels (Philox noise, guidance combine, fused step) and their benchmark
// driver. Compiled with --fmad=false: every float operation rounds on its own, like the CPU build
// (-ffp-contract=off), so the step and combine give the CPU's bits, and Philox (written with the _rn
// intrinsics in philox_math.h) gives the TypeScript reference's bits. Memory-bound kernels move data
// as float4 (16-byte LDG/STG) with a scalar tail.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_api.h"
#include "philox_math.h"

namespace dk {
namespace cuda {
namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

// A device allocation freed on scope exit (also on exceptions).
struct DeviceBuffer {
  float* p = nullptr;
  explicit DeviceBuffer(size_t n) {
    if (n) Check(cudaMalloc(&p, n * sizeof(float)), "cudaMalloc");
  }
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

constexpr int kThreads = 256;

int SmCount() {
  static int sms = [] {
    int dev = 0, v = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev);
    return v > 0 ? v : 80;
  }();
  return sms;
}

// Grid for a grid-stride loop over `work` items: enough blocks to fill the GPU, no more than needed.
unsigned GridFor(size_t work) {
  const size_t need = (work + kThreads - 1) / kThreads;
  const size_t cap = static_cast<size_t>(SmCount()) * 16;
  return static_cast<unsigned>(std::max<size_t>(1, std::min(need, cap)));
}

// ---- Philox ----------------------------------------------------------------------------------

__global__ void PhiloxKernel(uint32_t k0, uint32_t k1, unsigned long long first_block, unsigned long long offset, float* __restrict__ out,
                             unsigned long long n, unsigned long long blocks, bool aligned) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long bi = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; bi < blocks; bi += stride) {
    const unsigned long long b = first_block + bi;
    float v[4];
    PhiloxNormalBlock(b, k0, k1, v);
    const long long base = static_cast<long long>(b * 4 - offset);
    if (aligned && base + 4 <= static_cast<long long>(n)) {
      reinterpret_cast<float4*>(out)[bi] = make_float4(v[0], v[1], v[2], v[3]);
    } else {
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        const long long i = base + l;
        if (i >= 0 && i < static_cast<long long>(n)) out[i] = v[l];
      }
    }
  }
}

void LaunchPhilox(uint64_t seed, uint64_t offset, float* d_out, size_t n, cudaStream_t s) {
  if (n == 0) return;
  const uint64_t first = offset / 4, last = (offset + n - 1) / 4;
  const uint64_t blocks = last - first + 1;
  // float4 stores need the output to start on a Philox block and a 16-byte address
  const bool aligned = offset % 4 == 0 && reinterpret_cast<uintptr_t>(d_out) % 16 == 0;
  PhiloxKernel<<<GridFor(blocks), kThreads, 0, s>>>(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), first, offset, d_out, n, blocks,
                                                     aligned);
  Check(cudaGetLastError(), "philox launch");
}

// ---- Guidance --------------------------------------------------------------------------------

__device__ __forceinline__ float Cfg(float u, float c, float s) { return u + s * (c - u); }

__global__ void GuidanceKernel(const float* __restrict__ u, const float* __restrict__ c, float s, float* __restrict__ o, unsigned long long n) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  const unsigned long long n4 = n / 4;
  const unsigned long long tid = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (unsigned long long i = tid; i < n4; i += stride) {
    const float4 a = reinterpret_cast<const float4*>(u)[i];
    const float4 b = reinterpret_cast<const float4*>(c)[i];
    reinterpret_cast<float4*>(o)[i] = make_float4(Cfg(a.x, b.x, s), Cfg(a.y, b.y, s), Cfg(a.z, b.z, s), Cfg(a.w, b.w, s));
  }
  for (unsigned long long i = n4 * 4 + tid; i < n; i += stride) o[i] = Cfg(u[i], c[i], s);
}

// Per-(item, block) partial sums in double: pass 0 sums cond and out, pass 1 sums squared deviations.
__global__ void GuidanceStatsKernel(const float* __restrict__ c, const float* __restrict__ g, unsigned long long len, int blocks_per_item, int pass,
                                    const double* __restrict__ means, double* __restrict__ partial) {
  const int item = blockIdx.x / blocks_per_item, part = blockIdx.x % blocks_per_item;
  const unsigned long long base = static_cast<unsigned long long>(item) * len;
  const double mc = pass ? means[2 * item] : 0.0, mg = pass ? means[2 * item + 1] : 0.0;
  double sc = 0, sg = 0;
  for (unsigned long long i = static_cast<unsigned long long>(part) * blockDim.x + threadIdx.x; i < len;
       i += static_cast<unsigned long long>(blocks_per_item) * blockDim.x) {
    const double a = c[base + i], b = g[base + i];
    if (pass) {
      sc += (a - mc) * (a - mc);
      sg += (b - mg) * (b - mg);
    } else {
      sc += a;
      sg += b;
    }
  }
  __shared__ double rc[kThreads], rg[kThreads];
  rc[threadIdx.x] = sc;
  rg[threadIdx.x] = sg;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      rc[threadIdx.x] += rc[threadIdx.x + s];
      rg[threadIdx.x] += rg[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = rc[0];
    partial[2 * blockIdx.x + 1] = rg[0];
  }
}

__global__ void ScaleItemsKernel(float* __restrict__ o, unsigned long long len, unsigned long long n, const float* __restrict__ factor) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) o[i] *= factor[i / len];
}

// Sums the per-block partials of each item (one block per item, fixed order: deterministic). Pass 0
// writes the means of cond and of the guided values; pass 1 the factor φ·std(cond)/std(out) + (1 − φ)
// (1 when the guided item has no spread).
__global__ void GuidanceFinalizeKernel(const double* __restrict__ partial, int blocks_per_item, unsigned long long len, int pass, float rescale,
                                       double* __restrict__ means, float* __restrict__ factor) {
  const int item = blockIdx.x;
  __shared__ double rc[kThreads], rg[kThreads];
  double a = 0, g = 0;
  for (int j = threadIdx.x; j < blocks_per_item; j += blockDim.x) {
    a += partial[2 * (item * blocks_per_item + j)];
    g += partial[2 * (item * blocks_per_item + j) + 1];
  }
  rc[threadIdx.x] = a;
  rg[threadIdx.x] = g;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      rc[threadIdx.x] += rc[threadIdx.x + s];
      rg[threadIdx.x] += rg[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (pass == 0) {
      means[2 * item] = rc[0] / static_cast<double>(len);
      means[2 * item + 1] = rg[0] / static_cast<double>(len);
    } else {
      const double ratio = rg[0] > 0 ? sqrt(rc[0] / rg[0]) : 1.0;
      factor[item] = static_cast<float>(static_cast<double>(rescale) * ratio + (1.0 - static_cast<double>(rescale)));
    }
  }
}

// Device-side guidance with optional rescale; d_cond must stay intact (it is read for the stats).
// Everything stays on the stream (stream-ordered scratch allocations, no host round trip).
void LaunchGuidance(const float* d_u, const float* d_c, float scale, float rescale, size_t batch, float* d_out, size_t n, cudaStream_t s) {
  if (n == 0) return;
  GuidanceKernel<<<GridFor(n / 4 + 1), kThreads, 0, s>>>(d_u, d_c, scale, d_out, n);
  Check(cudaGetLastError(), "guidance launch");
  if (!(rescale > 0)) return;
  const size_t len = n / batch;
  const int blocks_per_item = static_cast<int>(std::max<size_t>(1, std::min<size_t>((len + kThreads * 8 - 1) / (kThreads * 8), 1024)));
  const size_t nb = batch * blocks_per_item;
  if (nb > 0x7fffffffu || batch > 0x7fffffffu) throw std::runtime_error("guidance rescale: batch too large");
  void* scratch = nullptr;
  const size_t partial_bytes = nb * 2 * sizeof(double), means_bytes = batch * 2 * sizeof(double), factor_bytes = batch * sizeof(float);
  Check(cudaMallocAsync(&scratch, partial_bytes + means_bytes + factor_bytes, s), "cudaMallocAsync");
  double* d_partial = static_cast<double*>(scratch);
  double* d_means = d_partial + nb * 2;
  float* d_factor = reinterpret_cast<float*>(d_means + batch * 2);
  cudaError_t e = cudaSuccess;
  for (int pass = 0; pass < 2 && e == cudaSuccess; ++pass) {
    GuidanceStatsKernel<<<static_cast<unsigned>(nb), kThreads, 0, s>>>(d_c, d_out, len, blocks_per_item, pass, d_means, d_partial);
    GuidanceFinalizeKernel<<<static_cast<unsigned>(batch), kThreads, 0, s>>>(d_partial, blocks_per_item, len, pass, rescale, d_means, d_factor);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) {
    ScaleItemsKernel<<<GridFor(n), kThreads, 0, s>>>(d_out, len, n, d_factor);
    e = cudaGetLastError();
  }
  cudaFreeAsync(scratch, s);
  Check(e, "guidance rescale launch");
}

// ---- Fused step ------------------------------------------------------------------------------

struct DevStep {
  float a, b, clip, w, cx0, ceps, cs, cn;
};

template <int kPred, bool kGuided, bool kRecompute, bool kNoise, bool kX0>
__device__ __forceinline__ float StepOne(float xi, float mi, float mci, float zi, const DevStep& p, float* x0_out) {
  if (kGuided) mi = mi + p.w * (mci - mi);
  float x0, eps;
  if (kPred == 0) {
    x0 = (xi - p.b * mi) / p.a;
    eps = mi;
  } else if (kPred == 1) {
    x0 = p.a * xi - p.b * mi;
    eps = p.a * mi + p.b * xi;
  } else {
    x0 = mi;
    eps = (xi - p.a * x0) / p.b;
  }
  // same comparisons as std::max/std::min on the CPU (NaN passes through)
  x0 = (x0 < -p.clip) ? -p.clip : x0;
  x0 = (p.clip < x0) ? p.clip : x0;
  if (kRecompute) eps = (xi - p.a * x0) / p.b;
  float v = p.cx0 * x0 + p.ceps * eps + p.cs * xi;
  if (kNoise) v = v + p.cn * zi;
  *x0_out = x0;
  return v;
}

template <int kPred, bool kGuided, bool kRecompute, bool kNoise, bool kX0>
__global__ void StepKernel(const float* __restrict__ x, const float* __restrict__ m, const float* __restrict__ z, DevStep p, float* __restrict__ out,
                           float* __restrict__ x0o, unsigned long long n) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  const unsigned long long n4 = n / 4;
  const unsigned long long tid = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const float* mc = kGuided ? m + n : m;
  // the cond half starts at m + n: float4 access needs n % 4 == 0 (the launcher checks)
  for (unsigned long long i = tid; i < n4; i += stride) {
    const float4 xv = reinterpret_cast<const float4*>(x)[i];
    const float4 mv = reinterpret_cast<const float4*>(m)[i];
    float4 cv = make_float4(0, 0, 0, 0), zv = make_float4(0, 0, 0, 0);
    if (kGuided) cv = reinterpret_cast<const float4*>(mc)[i];
    if (kNoise) zv = reinterpret_cast<const float4*>(z)[i];
    float4 o, x0;
    o.x = StepOne<kPred, kGuided, kRecompute, kNoise, kX0>(xv.x, mv.x, cv.x, zv.x, p, &x0.x);
    o.y = StepOne<kPred, kGuided, kRecompute, kNoise, kX0>(xv.y, mv.y, cv.y, zv.y, p, &x0.y);
    o.z = StepOne<kPred, kGuided, kRecompute, kNoise, kX0>(xv.z, mv.z, cv.z, zv.z, p, &x0.z);
    o.w = StepOne<kPred, kGuided, kRecompute, kNoise, kX0>(xv.w, mv.w, cv.w, zv.w, p, &x0.w);
    reinterpret_cast<float4*>(out)[i] = o;
    if (kX0) reinterpret_cast<float4*>(x0o)[i] = x0;
  }
  for (unsigned long long i = n4 * 4 + tid; i < n; i += stride) {
    float x0;
    out[i] = StepOne<kPred, kGuided, kRecompute, kNoise, kX0>(x[i], m[i], kGuided ? mc[i] : 0.0f, kNoise ? z[i] : 0.0f, p, &x0);
    if (kX0) x0o[i] = x0;
  }
}

// Scalar variant for buffers that cannot be read as float4 (n % 4 != 0 with guidance).
template <int kPred, bool kGuided, bool kRecompute, bool kNoise, bool kX0>
__global__ void StepKernelScalar(const float* __restrict__ x, const float* __restrict__ m, const float* __restrict__ z, DevStep p, float* __restrict__ out,
                                 float* __restrict__ x0o, unsigned long long n) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float x0;
    out[i] = StepOne<kPred, kGuided, kRecompute, kNoise, kX0>(x[i], m[i], kGuided ? m[n + i] : 0.0f, kNoise ? z[i] : 0.0f, p, &x0);
    if (kX0) x0o[i] = x0;
  }
}

template <int kPred, bool kGuided, bool kRecompute, bool kNoise, bool kX0>
void LaunchStepT(const float* x, const float* m, const float* z, const DevStep& p, float* out, float* x0, size_t n, cudaStream_t s) {
  const bool vec = n % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(m) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(out) % 16 == 0 && (!kNoise || reinterpret_cast<uintptr_t>(z) % 16 == 0) &&
                   (!kX0 || reinterpret_cast<uintptr_t>(x0) % 16 == 0);
  if (vec) {
    StepKernel<kPred, kGuided, kRecompute, kNoise, kX0><<<GridFor(n / 4), kThreads, 0, s>>>(x, m, z, p, out, x0, n);
  } else {
    StepKernelScalar<kPred, kGuided, kRecompute, kNoise, kX0><<<GridFor(n), kThreads, 0, s>>>(x, m, z, p, out, x0, n);
  }
  Check(cudaGetLastError(), "step launch");
}

template <int kPred, bool kGuided, bool kRecompute, bool kNoise>
void Pick4(bool x0f, const float* x, const float* m, const float* z, const DevStep& p, float* out, float* x0, size_t n, cudaStream_t s) {
  if (x0f) LaunchStepT<kPred, kGuided, kRecompute, kNoise, true>(x, m, z, p, out, x0, n, s);
  else LaunchStepT<kPred, kGuided, kRecompute, kNoise, false>(x, m, z, p, out, x0, n, s);
}
template <int kPred, bool kGuided, bool kRecompute>
void Pick3(bool nf, bool x0f, const float* x, const float* m, const float* z, const DevStep& p, float* out, float* x0, size_t n, cudaStream_t s) {
  if (nf) Pick4<kPred, kGuided, kRecompute, true>(x0f, x, m, z, p, out, x0, n, s);
  else Pick4<kPred, kGuided, kRecompute, false>(x0f, x, m, z, p, out, x0, n, s);
}
template <int kPred, bool kGuided>
void Pick2(bool rf, bool nf, bool x0f, const float* x, const float* m, const float* z, const DevStep& p, float* out, float* x0, size_t n, cudaStream_t s) {
  if (rf) Pick3<kPred, kGuided, true>(nf, x0f, x, m, z, p, out, x0, n, s);
  else Pick3<kPred, kGuided, false>(nf, x0f, x, m, z, p, out, x0, n, s);
}
template <int kPred>
void Pick1(bool gf, bool rf, bool nf, bool x0f, const float* x, const float* m, const float* z, const DevStep& p, float* out, float* x0, size_t n,
           cudaStream_t s) {
  if (gf) Pick2<kPred, true>(rf, nf, x0f, x, m, z, p, out, x0, n, s);
  else Pick2<kPred, false>(rf, nf, x0f, x, m, z, p, out, x0, n, s);
}

void LaunchStep(const float* x, const float* m, const float* z, const StepParams& sp, float* out, float* x0, size_t n, cudaStream_t s) {
  if (n == 0) return;
  const DevStep p{sp.a, sp.b, sp.clip, sp.w, sp.coef_x0, sp.coef_eps, sp.coef_sample, sp.coef_noise};
  const bool nf = z != nullptr, x0f = x0 != nullptr;
  switch (sp.prediction) {
    case Prediction::kEpsilon: Pick1<0>(sp.guided, sp.recompute_eps, nf, x0f, x, m, z, p, out, x0, n, s); break;
    case Prediction::kVPrediction: Pick1<1>(sp.guided, sp.recompute_eps, nf, x0f, x, m, z, p, out, x0, n, s); break;
    default: Pick1<2>(sp.guided, sp.recompute_eps, nf, x0f, x, m, z, p, out, x0, n, s); break;
  }
}

// ---- Copy / write yardsticks -----------------------------------------------------------------

__global__ void CopyKernel(const float4* __restrict__ a, float4* __restrict__ b, unsigned long long n4) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += stride) b[i] = a[i];
}

__global__ void WriteKernel(float4* __restrict__ b, float v, unsigned long long n4) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += stride) b[i] = make_float4(v, v, v, v);
}

void ToDevice(float* d, const float* h, size_t n) {
  if (n) Check(cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy to device");
}
void ToHost(float* h, const float* d, size_t n) {
  if (n) Check(cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

void RequireDevice() {
  const Status s = Query();
  if (!s.available) throw std::runtime_error("no usable CUDA device: " + s.error);
}

}  // namespace

Status Query() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    status.compiled = true;
    cudaRuntimeGetVersion(&status.runtime_version);
    cudaDriverGetVersion(&status.driver_version);  // 0 without a driver
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      status.error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
      cudaGetLastError();  // clear the sticky-free error state
      return;
    }
    status.device_count = count;
    if (count == 0) {
      status.error = "no CUDA device";
      return;
    }
    cudaDeviceProp prop{};
    const cudaError_t pe = cudaGetDeviceProperties(&prop, 0);
    if (pe != cudaSuccess) {
      status.error = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(pe);
      return;
    }
    status.device_name = prop.name;
    status.cc_major = prop.major;
    status.cc_minor = prop.minor;
    status.total_memory = prop.totalGlobalMem;
    // make sure this build has code for the device (a kernel launch fails otherwise)
    const cudaError_t fe = cudaFree(nullptr);
    if (fe != cudaSuccess) {
      status.error = std::string("CUDA context: ") + cudaGetErrorString(fe);
      return;
    }
    status.available = true;
  });
  return status;
}

void PhiloxNormal(uint64_t seed, uint64_t offset, float* out, size_t n) {
  RequireDevice();
  if (n == 0) return;
  DeviceBuffer d(n);
  LaunchPhilox(seed, offset, d.p, n, 0);
  ToHost(out, d.p, n);
}

void GuidanceCombine(const float* uncond, const float* cond, float scale, float rescale, size_t batch, float* out, size_t n) {
  RequireDevice();
  if (n == 0) return;
  DeviceBuffer du(n), dc(n), dout(n);
  ToDevice(du.p, uncond, n);
  ToDevice(dc.p, cond, n);
  LaunchGuidance(du.p, dc.p, scale, rescale, batch, dout.p, n, 0);
  ToHost(out, dout.p, n);
}

void FusedStep(const float* x, const float* model, const float* noise, const StepParams& p, float* out, float* x0_out, size_t n) {
  RequireDevice();
  if (n == 0) return;
  const size_t mlen = p.guided ? 2 * n : n;
  DeviceBuffer dx(n), dm(mlen), dz(noise ? n : 0), dout(n), dx0(x0_out ? n : 0);
  ToDevice(dx.p, x, n);
  ToDevice(dm.p, model, mlen);
  if (noise) ToDevice(dz.p, noise, n);
  LaunchStep(dx.p, dm.p, noise ? dz.p : nullptr, p, dout.p, x0_out ? dx0.p : nullptr, n, 0);
  ToHost(out, dout.p, n);
  if (x0_out) ToHost(x0_out, dx0.p, n);
}

double Bench(const std::string& kind, size_t n, int iters, double* bytes) {
  RequireDevice();
  if (n == 0 || n % 4 != 0) throw std::runtime_error("bench size must be a positive multiple of 4");
  const double fb = static_cast<double>(n) * sizeof(float);
  const bool guided = kind == "guidedStep";
  const bool needs_in = kind != "write" && kind != "philox";
  DeviceBuffer out(n), x(needs_in ? n : 0), m(needs_in ? (guided || kind.rfind("guidance", 0) == 0 ? 2 * n : n) : 0),
      z(kind == "step" || guided ? n : 0);
  cudaStream_t s = 0;
  if (needs_in) {
    LaunchPhilox(1, 0, x.p, n, s);
    LaunchPhilox(2, 0, m.p, guided || kind.rfind("guidance", 0) == 0 ? 2 * n : n, s);
  }
  if (z.p) LaunchPhilox(3, 0, z.p, n, s);
  StepParams sp;
  sp.a = 0.8f;
  sp.b = 0.6f;
  sp.coef_x0 = 0.9f;
  sp.coef_eps = 0.3f;
  sp.coef_noise = 0.1f;
  sp.guided = guided;
  sp.w = 7.5f;
  std::function<void()> launch;
  if (kind == "copy") {
    launch = [&] { Check(cudaMemcpyAsync(out.p, x.p, n * sizeof(float), cudaMemcpyDeviceToDevice, s), "cudaMemcpy D2D"); };
    *bytes = 2 * fb;
  } else if (kind == "copyKernel") {
    launch = [&] { CopyKernel<<<GridFor(n / 4), kThreads, 0, s>>>(reinterpret_cast<const float4*>(x.p), reinterpret_cast<float4*>(out.p), n / 4); };
    *bytes = 2 * fb;
  } else if (kind == "write") {
    launch = [&] { WriteKernel<<<GridFor(n / 4), kThreads, 0, s>>>(reinterpret_cast<float4*>(out.p), 1.0f, n / 4); };
    *bytes = fb;
  } else if (kind == "philox") {
    launch = [&] { LaunchPhilox(42, 0, out.p, n, s); };
    *bytes = fb;
  } else if (kind == "guidance") {
    launch = [&] { LaunchGuidance(m.p, m.p + n, 7.5f, 0.0f, 1, out.p, n, s); };
    *bytes = 3 * fb;
  } else if (kind == "guidanceRescale") {
    launch = [&] { LaunchGuidance(m.p, m.p + n, 7.5f, 0.7f, 2, out.p, n, s); };
    *bytes = 7 * fb;
  } else if (kind == "step" || kind == "guidedStep") {
    launch = [&] { LaunchStep(x.p, m.p, z.p, sp, out.p, nullptr, n, s); };
    *bytes = (guided ? 5 : 4) * fb;
  } else {
    throw std::runtime_error("unknown bench kind " + kind);
  }
  launch();
  launch();
  Check(cudaDeviceSynchronize(), "bench warm-up");
  cudaEvent_t e0, e1;
  Check(cudaEventCreate(&e0), "cudaEventCreate");
  Check(cudaEventCreate(&e1), "cudaEventCreate");
  Check(cudaEventRecord(e0, s), "cudaEventRecord");
  for (int i = 0; i < iters; ++i) launch();
  Check(cudaEventRecord(e1, s), "cudaEventRecord");
  Check(cudaEventSynchronize(e1), "cudaEventSynchronize");
  float ms = 0;
  Check(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime");
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  Check(cudaGetLastError(), "bench");
  return ms / iters;
}

}  // namespace cuda
}  // namespace dk
