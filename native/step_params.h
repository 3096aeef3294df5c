// Parameters of the fused DDIM/DDPM step, shared by the CPU and CUDA kernels (see FusedStepParams in
// src/native/kernels.ts for the math).
#pragma once
#include <cmath>

namespace dk {

enum class Prediction : int { kEpsilon = 0, kVPrediction = 1, kSample = 2 };

struct StepParams {
  Prediction prediction = Prediction::kEpsilon;
  float a = 1.0f;             // sqrt(ᾱ_t)
  float b = 0.0f;             // sqrt(1 − ᾱ_t)
  float clip = INFINITY;      // |x0| bound; +inf when off
  bool recompute_eps = false; // re-derive eps from the clipped x0
  float coef_x0 = 0.0f, coef_eps = 0.0f, coef_sample = 0.0f, coef_noise = 0.0f;
  bool guided = false;        // model output = [uncond | cond], combined with scale w
  float w = 1.0f;
};

}  // namespace dk
