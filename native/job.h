// One kernel call as a "job" object that runs either synchronously on the calling thread or in a
// Napi::AsyncWorker that returns a Promise. A job holds its inputs as PinnedF32 (references kept
// until the worker is destroyed on the main thread) and implements `void Run()`, which may throw
// std::exception (reported as a JS Error / a rejected Promise). Run() must not touch N-API.
#pragma once
#include <napi.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace dk {

// The Promise is settled through the plain C API with every status ignored, inside the completion
// callback itself: when the environment is being torn down (worker.terminate(), process exit) Node
// still runs this callback after the kernel finishes, but JavaScript can no longer run, so resolving
// fails — node-addon-api's default path would turn that into a C++ exception that aborts the process.
// The job (and its pinned references) is destroyed here too, while the environment is still valid.
template <class Job>
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Job&& job) : Napi::AsyncWorker(env, "diffusekit"), job_(std::in_place, std::move(job)) {
    napi_value promise = nullptr;
    if (napi_create_promise(env, &deferred_, &promise) != napi_ok) throw Napi::Error::New(env, "diffusekit native: cannot create a Promise");
    promise_ = promise;
  }
  napi_value Promise() const { return promise_; }

 protected:
  void Execute() override {
    try {
      job_->Run();
    } catch (const std::exception& e) {
      error_ = std::string("diffusekit native: ") + e.what();
    } catch (...) {
      error_ = "diffusekit native: unknown error";
    }
  }

  void OnWorkComplete(Napi::Env env, napi_status status) override {
    napi_handle_scope scope = nullptr;
    const bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
    if (status == napi_cancelled && error_.empty()) error_ = "diffusekit native: the kernel was cancelled";
    // results are written back into the JS arrays (private copies) and references released before
    // the Promise settles
    job_.reset();
    if (error_.empty()) {
      napi_value undefined = nullptr;
      if (napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, deferred_, undefined);
    } else {
      napi_value msg = nullptr, err = nullptr;
      if (napi_create_string_utf8(env, error_.c_str(), NAPI_AUTO_LENGTH, &msg) == napi_ok && napi_create_error(env, nullptr, msg, &err) == napi_ok) {
        napi_reject_deferred(env, deferred_, err);
      }
    }
    if (scoped) napi_close_handle_scope(env, scope);
    Destroy();  // deletes this
  }

 private:
  std::optional<Job> job_;
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
  std::string error_;
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
  const napi_value p = w->Promise();
  w->Queue();
  return Napi::Value(env, p);
}

}  // namespace dk
