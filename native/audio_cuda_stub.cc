// Griffin-Lim's CUDA entry points in a build without nvcc (or with DIFFUSEKIT_NO_CUDA): unavailable,
// so the TypeScript side uses the CPU kernel or reports CUDA_UNAVAILABLE.
#ifndef DIFFUSEKIT_HAS_CUDA
#include <stdexcept>

#include "audio_griffin_lim.h"

namespace dk {
namespace audio {

bool GriffinLimCudaAvailable(std::string* why) {
  if (why) *why = "the addon was built without CUDA (nvcc not found at build time, or DIFFUSEKIT_NO_CUDA=1)";
  return false;
}
double GriffinLimCudaLastMs() { return 0; }
void GriffinLimCuda(const float*, const GriffinLimParams&, float*) { throw std::runtime_error("CUDA support was not compiled in"); }

}  // namespace audio
}  // namespace dk
#endif
