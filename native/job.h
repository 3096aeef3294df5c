// One kernel call as a "job" object that runs either synchronously on the calling thread or in a
// Napi::AsyncWorker that returns a Promise. A job holds its inputs as PinnedF32 (references kept
// until the worker is destroyed on the main thread) and implements `void Run()`, which may throw
// std::exception (reported as a JS Error / a rejected Promise). Run() must not touch N-API.
#pragma once
#include <napi.h>

#include <exception>
#include <string>
#include <utility>

namespace dk {

template <class Job>
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Job&& job) : Napi::AsyncWorker(env, "diffusekit"), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      job_.Run();
    } catch (const std::exception& e) {
      SetError(std::string("diffusekit native: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Job job_;
  Napi::Promise::Deferred deferred_;
};

// Runs the job now (returns undefined) or queues it (returns a Promise).
template <class Job>
Napi::Value RunJob(Napi::Env env, Job&& job, bool async) {
  if (!async) {
    try {
      job.Run();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("diffusekit native: ") + e.what());
    }
    return env.Undefined();
  }
  auto* w = new JobWorker<Job>(env, std::move(job));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace dk
