// Module entry point: each kernel family adds its functions to `exports` (see registry.h).
#include "registry.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  dk::RegisterCore(env, exports);
  dk::RegisterPhilox(env, exports);
  dk::RegisterGuidance(env, exports);
  dk::RegisterStep(env, exports);
  dk::RegisterCopy(env, exports);
  dk::RegisterCuda(env, exports);
  dk::RegisterAudio(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(diffusekit, Init)
