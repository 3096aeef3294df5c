// The CPU kernels and the shared argument readers, for use across binding files.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "args.h"
#include "step_params.h"

namespace dk {

void PhiloxNormalCpu(uint64_t seed, uint64_t offset, float* out, size_t n);
void GuidanceCombineCpu(const float* uncond, const float* cond, float scale, float rescale, size_t batch, float* out, size_t n);
void FusedStepCpu(const float* x, const float* model, const float* noise, const StepParams& p, float* out, float* x0_out, size_t n);

StepParams ReadStepParams(Napi::Env env, Napi::Value v);
void CheckStepLengths(Napi::Env env, const StepParams& p, size_t n, size_t m, const PinnedF32& z, size_t out, const PinnedF32& x0);

}  // namespace dk
