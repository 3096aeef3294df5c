// The CUDA side seen from plain C++ (no N-API in .cu files): the bindings in cuda_bindings.cc call
// these. When the addon is built without CUDA, cuda_stub.cc provides them (Query says not compiled,
// everything else throws). All functions take host pointers and copy to and from device buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "step_params.h"

namespace dk {
namespace cuda {

struct Status {
  bool compiled = false;
  bool available = false;
  int device_count = 0;
  std::string device_name;
  std::string error;  // why CUDA is not available (no driver, no device, ...)
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;
  int runtime_version = 0, driver_version = 0;
};

// Cached after the first call (device discovery is slow and its answer does not change).
Status Query();

// Throw std::runtime_error on any CUDA failure.
void PhiloxNormal(uint64_t seed, uint64_t offset, float* out, size_t n);
void GuidanceCombine(const float* uncond, const float* cond, float scale, float rescale, size_t batch, float* out, size_t n);
void FusedStep(const float* x, const float* model, const float* noise, const StepParams& p, float* out, float* x0_out, size_t n);

// Benchmark on device-resident buffers of n floats: average milliseconds per launch over `iters`
// launches, timed with CUDA events after a warm-up. kind: "copy" (cudaMemcpy D2D), "copyKernel"
// (float4 copy kernel), "write" (float4 store kernel), "philox", "guidance", "guidanceRescale",
// "step" (epsilon DDIM step + noise), "guidedStep" (the same reading uncond/cond halves).
// Returns the bytes moved per launch in *bytes.
double Bench(const std::string& kind, size_t n, int iters, double* bytes);

}  // namespace cuda
}  // namespace dk
