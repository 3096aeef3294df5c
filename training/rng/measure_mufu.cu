// Measures the GPU's approximate sine and cosine (PTX sin.approx.f32 / cos.approx.f32, which
// __sincosf and so curand's Box-Muller compile to) on a designed set of inputs, so that
// training/rng/fit_mufu.ts can recover the per-interval quadratic coefficients that
// src/core/rng/cuda-f32.ts needs to reproduce torch.randn on CUDA bit for bit.
//
// Build and run (on the GPU machine; training/rng/gpu_job.sh does this):
//   nvcc -O3 -arch=native -o measure_mufu measure_mufu.cu && ./measure_mufu <outdir>
// Writes <outdir>/mufu_sweep.bin, <outdir>/mufu_edge.bin and <outdir>/mufu_index.json.
//
// Input design. On sm_70+ the instruction first multiplies by 1/2π (float32, rounded toward
// zero), then works on the 2.23 fixed-point quarter-turn count 4t: a quadrant (2 bits) and a
// 23-bit fraction, whose top 6 bits pick one of 64 table intervals. For every fraction
// r in [0, 2^23) the sweep takes the smallest float32 x with x·(1/2π) ≥ r·2^-25 (exact: a
// float32 product fits a double), so the quadrant-0 sweep visits every fixed-point argument the
// hardware distinguishes: sin sees fraction r, cos its complement. The edge set probes what the
// sweep assumes: the largest x of a cell (extra low bits of t, round-to-nearest vs toward-zero
// scaling), the other quadrants, turns beyond the first, curand's own angles, tiny, large,
// negative and special inputs.
//
// File formats (little-endian):
//   mufu_sweep.bin: three int32 arrays of 2^23 entries, [x, sin, cos] bit patterns, each stored
//     as differences from the previous entry (the first from 0), mod 2^32: smooth data, so the
//     gzip of this file is small.
//   mufu_edge.bin: uint32 arrays of n entries: x, sin.approx, cos.approx, __sincosf sin,
//     __sincosf cos (raw bit patterns), then n uint8 category ids (names in the index).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>
#include <cuda_runtime.h>

#define CHECK(call)                                                                   \
  do {                                                                                \
    cudaError_t e_ = (call);                                                          \
    if (e_ != cudaSuccess) {                                                          \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

// The two PTX instructions themselves (inline asm, so no library code is involved).
__global__ void approxKernel(const float* x, uint32_t* s, uint32_t* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = x[i], a, b;
  asm volatile("sin.approx.f32 %0, %1;" : "=f"(a) : "f"(v));
  asm volatile("cos.approx.f32 %0, %1;" : "=f"(b) : "f"(v));
  s[i] = __float_as_uint(a);
  c[i] = __float_as_uint(b);
}

// The intrinsic curand calls, compiled like torch compiles it (no fast-math flags), in its own
// kernel so the compiler cannot merge it with the asm above.
__global__ void sincosKernel(const float* x, uint32_t* s, uint32_t* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float a, b;
  __sincosf(x[i], &a, &b);
  s[i] = __float_as_uint(a);
  c[i] = __float_as_uint(b);
}

static float fromBits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t toBits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static const float INV_2PI = fromBits(0x3e22f983u); // float32 1/2π, the constant ptxas multiplies by

// Smallest float32 x >= 0 with x·INV_2PI >= R·2^-25 (the exact product, in a double).
static float cellStart(uint64_t R) {
  const double target = std::ldexp((double)R, -25);
  float x = (float)(target / (double)INV_2PI);
  while ((double)x * (double)INV_2PI < target) x = std::nextafter(x, INFINITY);
  while (x > 0.0f) {
    float p = std::nextafter(x, 0.0f);
    if ((double)p * (double)INV_2PI >= target) x = p; else break;
  }
  return x;
}
// Largest float32 x with x·INV_2PI < (R+1)·2^-25: the last input of fixed-point cell R.
static float cellEnd(uint64_t R) { return std::nextafter(cellStart(R + 1), 0.0f); }

// splitmix64: a fixed, documented stream so the edge set is the same on every run.
static uint64_t rngState = 0x5eed2026ull;
static uint64_t next64() {
  uint64_t z = (rngState += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void runKernels(const std::vector<float>& xs, std::vector<uint32_t>& s, std::vector<uint32_t>& c,
                       std::vector<uint32_t>& fs, std::vector<uint32_t>& fc) {
  const int n = (int)xs.size();
  float* dx; uint32_t *ds, *dc;
  CHECK(cudaMalloc(&dx, n * 4)); CHECK(cudaMalloc(&ds, n * 4)); CHECK(cudaMalloc(&dc, n * 4));
  CHECK(cudaMemcpy(dx, xs.data(), n * 4, cudaMemcpyHostToDevice));
  s.resize(n); c.resize(n); fs.resize(n); fc.resize(n);
  const int B = 256, G = (n + B - 1) / B;
  approxKernel<<<G, B>>>(dx, ds, dc, n);
  CHECK(cudaGetLastError()); CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpy(s.data(), ds, n * 4, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(c.data(), dc, n * 4, cudaMemcpyDeviceToHost));
  sincosKernel<<<G, B>>>(dx, ds, dc, n);
  CHECK(cudaGetLastError()); CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpy(fs.data(), ds, n * 4, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(fc.data(), dc, n * 4, cudaMemcpyDeviceToHost));
  CHECK(cudaFree(dx)); CHECK(cudaFree(ds)); CHECK(cudaFree(dc));
}

static size_t countDiff(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  size_t k = 0;
  for (size_t i = 0; i < a.size(); i++) k += a[i] != b[i];
  return k;
}

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: measure_mufu <outdir>\n"); return 2; }
  const std::string dir = argv[1];

  // Sweep: every 23-bit fraction of quadrant 0.
  const int N = 1 << 23;
  std::vector<float> sweep(N);
  for (int r = 0; r < N; r++) {
    sweep[r] = cellStart((uint64_t)r);
    // The cell must be non-empty (x steps finer than 2^-25 turns below π/2); checked, not assumed.
    if ((uint64_t)std::floor((double)sweep[r] * (double)INV_2PI * 33554432.0) != (uint64_t)r) {
      fprintf(stderr, "fraction %d has no float32 input\n", r);
      return 1;
    }
  }

  // Edge set, by category.
  const char* names[] = {"cell_end_q0", "quadrants", "turns_beyond_first", "curand_angles", "tiny", "large", "negative", "special"};
  std::vector<float> edge;
  std::vector<uint8_t> cat;
  auto add = [&](float x, int k) { edge.push_back(x); cat.push_back((uint8_t)k); };
  for (int r = 0; r < N; r++)
    if (r % 64 == 0 || r < 2048) add(cellEnd((uint64_t)r), 0);
  for (int q = 1; q < 4; q++)
    for (int j = 0; j < 16384; j++) {
      uint64_t R = ((uint64_t)q << 23) + (next64() & (N - 1));
      add(cellStart(R), 1);
      add(cellEnd(R), 1);
    }
  for (int j = 0; j < 16384; j++) add(cellStart((1ull << 25) + (next64() % (7ull << 25))), 2);
  const float vScale = 2.3283064e-10f * 6.2831855f; // CURAND_2POW32_INV_2PI, as curand folds it
  const float vHalf = vScale / 2.0f;
  std::vector<float> curand;
  for (int j = 0; j < 65536; j++) {
    uint32_t y = (uint32_t)next64();
    if (j == 0) y = 0;
    if (j == 1) y = 0xffffffffu;
    float v = std::fma((float)y, vScale, vHalf);
    curand.push_back(v);
    add(v, 3);
  }
  const float tiny[] = {0.0f, fromBits(1), fromBits(0x007fffff), fromBits(0x00800000), 1e-30f, 1e-20f, 1e-10f,
                        1e-9f, 1.4629181e-9f, 1e-8f, 1e-7f, 1.8e-7f, 1e-6f, 1e-5f, 1e-4f, 1e-3f};
  for (float x : tiny) add(x, 4);
  for (uint64_t R = 1; R <= 64; R++) { add(cellStart(R), 4); add(cellEnd(R), 4); add(std::nextafter(cellStart(R), 0.0f), 4); }
  for (int j = 0; j < 4096; j++) {
    double u = (double)(next64() >> 11) * 0x1p-53;
    add((float)(6.283185307179586 * std::pow(2.0, u * 22.0)), 5); // log-uniform in [2π, 2^24·π/2)
  }
  for (int j = 0; j < 4096; j++) add(-curand[j], 6);
  add(-0.0f, 6);
  add(INFINITY, 7); add(-INFINITY, 7); add(NAN, 7); add(fromBits(0x7f7fffff), 7); add(16777216.0f, 7);

  std::vector<uint32_t> s, c, fs, fc, es, ec, efs, efc;
  runKernels(sweep, s, c, fs, fc);
  runKernels(edge, es, ec, efs, efc);

  // Sweep file: delta-coded bit patterns.
  {
    FILE* f = fopen((dir + "/mufu_sweep.bin").c_str(), "wb");
    if (!f) { perror("mufu_sweep.bin"); return 1; }
    std::vector<uint32_t> xb(N);
    for (int i = 0; i < N; i++) xb[i] = toBits(sweep[i]);
    const std::vector<uint32_t>* arrays[] = {&xb, &s, &c};
    std::vector<uint32_t> d(N);
    for (auto* a : arrays) {
      uint32_t prev = 0;
      for (int i = 0; i < N; i++) { d[i] = (*a)[i] - prev; prev = (*a)[i]; }
      fwrite(d.data(), 4, N, f);
    }
    fclose(f);
  }
  {
    FILE* f = fopen((dir + "/mufu_edge.bin").c_str(), "wb");
    if (!f) { perror("mufu_edge.bin"); return 1; }
    std::vector<uint32_t> xb(edge.size());
    for (size_t i = 0; i < edge.size(); i++) xb[i] = toBits(edge[i]);
    for (auto* a : {&xb, &es, &ec, &efs, &efc}) fwrite(a->data(), 4, a->size(), f);
    fwrite(cat.data(), 1, cat.size(), f);
    fclose(f);
  }

  cudaDeviceProp p;
  CHECK(cudaGetDeviceProperties(&p, 0));
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  char when[64];
  time_t now = time(nullptr);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  FILE* j = fopen((dir + "/mufu_index.json").c_str(), "w");
  fprintf(j, "{\n  \"device\": \"%s\", \"compute_capability\": \"%d.%d\", \"sms\": %d,\n", p.name, p.major, p.minor, p.multiProcessorCount);
  fprintf(j, "  \"cuda_driver\": %d, \"cuda_runtime\": %d, \"measured_at\": \"%s\",\n", driver, runtime, when);
  fprintf(j, "  \"instructions\": [\"sin.approx.f32\", \"cos.approx.f32\", \"__sincosf\"],\n");
  fprintf(j, "  \"sweep\": {\"file\": \"mufu_sweep.bin\", \"count\": %d, \"arrays\": [\"x\", \"sin\", \"cos\"], \"encoding\": \"int32 LE differences of uint32 bit patterns, first from 0\",\n", N);
  fprintf(j, "    \"design\": \"x[r] = smallest float32 with x*0x3e22f983 >= r*2^-25, r = 0..2^23-1\",\n");
  fprintf(j, "    \"sincosf_differs\": {\"sin\": %zu, \"cos\": %zu}},\n", countDiff(s, fs), countDiff(c, fc));
  fprintf(j, "  \"edge\": {\"file\": \"mufu_edge.bin\", \"count\": %zu, \"arrays\": [\"x\", \"sin\", \"cos\", \"sincosf_sin\", \"sincosf_cos\"], \"encoding\": \"uint32 LE bit patterns, then uint8 category per entry\",\n", edge.size());
  fprintf(j, "    \"sincosf_differs\": {\"sin\": %zu, \"cos\": %zu},\n", countDiff(es, efs), countDiff(ec, efc));
  fprintf(j, "    \"categories\": [");
  for (int k = 0; k < 8; k++) fprintf(j, "%s\"%s\"", k ? ", " : "", names[k]);
  fprintf(j, "]}\n}\n");
  fclose(j);
  printf("device %s (cc %d.%d, %d SMs); sweep %d, edge %zu; __sincosf differs from asm: sweep %zu/%zu, edge %zu/%zu\n", p.name, p.major,
         p.minor, p.multiProcessorCount, N, edge.size(), countDiff(s, fs), countDiff(c, fc), countDiff(es, efs), countDiff(ec, efc));
  return 0;
}
