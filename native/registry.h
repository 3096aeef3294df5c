// Every kernel family registers its JavaScript functions through one function declared here and
// called from addon.cc. To add a family: write native/<family>.cc defining
// `void Register<Family>(Napi::Env env, Napi::Object exports)`, declare it below, call it in addon.cc.
// CMake globs native/*.cc (and native/*.cu when nvcc is found); nothing else needs to change.
#pragma once
#include <napi.h>

namespace dk {

void RegisterCore(Napi::Env env, Napi::Object exports);      // core.cc: version, info, threads
void RegisterPhilox(Napi::Env env, Napi::Object exports);    // philox.cc: Philox normal noise (CPU)
void RegisterGuidance(Napi::Env env, Napi::Object exports);  // guidance.cc: CFG combine + rescale (CPU)
void RegisterStep(Napi::Env env, Napi::Object exports);      // step.cc: fused DDIM/DDPM step (CPU)
void RegisterCopy(Napi::Env env, Napi::Object exports);      // copy.cc: plain copy, the bandwidth yardstick
void RegisterCuda(Napi::Env env, Napi::Object exports);      // cuda_bindings.cc: the same kernels on CUDA, bench
void RegisterAudio(Napi::Env env, Napi::Object exports);     // audio_bindings.cc: Griffin-Lim (CPU + CUDA) (audio helper)

}  // namespace dk
