// The CUDA entry points of a build without nvcc (or with DIFFUSEKIT_NO_CUDA): CUDA reports
// "not compiled" and every kernel throws, so the JS side falls back to the CPU kernels.
#ifndef DIFFUSEKIT_HAS_CUDA
#include <stdexcept>

#include "cuda_api.h"

namespace dk {
namespace cuda {

Status Query() {
  Status s;
  s.error = "the addon was built without CUDA (nvcc not found at build time, or DIFFUSEKIT_NO_CUDA=1)";
  return s;
}
void PhiloxNormal(uint64_t, uint64_t, float*, size_t) { throw std::runtime_error("CUDA support was not compiled in"); }
void GuidanceCombine(const float*, const float*, float, float, size_t, float*, size_t) { throw std::runtime_error("CUDA support was not compiled in"); }
void FusedStep(const float*, const float*, const float*, const StepParams&, float*, float*, size_t) {
  throw std::runtime_error("CUDA support was not compiled in");
}
double Bench(const std::string&, size_t, int, double*) { throw std::runtime_error("CUDA support was not compiled in"); }

}  // namespace cuda
}  // namespace dk
#endif
