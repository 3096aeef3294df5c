"""diffusekit's CUDA and CPU Griffin-Lim against torchaudio's, on the same GPU machine, in one run.

Builds native/audio_griffin_lim.cu + audio_griffin_lim.cc + audio_fft.cc + thread_pool.cc (the same
sources as the addon, without N-API) into a shared library with a tiny C entry point, loads it with
ctypes, then
  1. checks correctness: deterministic (zero initial phase) Griffin-Lim on the recorded fixture at
     Riffusion's setting, ours (CUDA float32, CPU float64) vs torchaudio (CUDA float32, CPU float64);
  2. times Griffin-Lim at Riffusion's 512x512 setting, at n_fft 1024 / hop 256 (512 frames) and at the
     bundled speech and music models' settings, 32 and 100 iterations: ours CUDA vs torchaudio CUDA, ours CPU vs torchaudio CPU (16 and 2 threads).
Usage: python3 bench/gpu/griffin_lim_cuda.py OUT_DIR   (run from the repository root)
"""
import ctypes
import glob
import json
import os
import subprocess
import sys
import time
import wave

import numpy as np
import torch
import torchaudio

CAPI = r'''
#include <cstring>
#include <exception>
#include "audio_griffin_lim.h"
#include "thread_pool.h"
extern "C" int dk_gl(const float* mag, int nfft, int hop, int win, int iters, double momentum, int rand_init, unsigned seed,
                     int length, int frames, int cuda, float* out, double* gpu_ms, char* err, int errlen) {
  try {
    dk::audio::GriffinLimParams p;
    p.n_fft = nfft; p.hop = hop; p.win = win; p.iterations = iters; p.momentum = momentum; p.power = 1.0;
    p.rand_init = rand_init != 0; p.seed = seed; p.length = length; p.frames = frames;
    if (cuda) dk::audio::GriffinLimCuda(mag, p, out); else dk::audio::GriffinLimCpu(mag, p, out);
    if (gpu_ms) *gpu_ms = cuda ? dk::audio::GriffinLimCudaLastMs() : 0.0;
    return 0;
  } catch (const std::exception& e) {
    std::strncpy(err, e.what(), errlen - 1);
    err[errlen - 1] = 0;
    return 1;
  }
}
extern "C" void dk_set_threads(int n) { dk::SetThreads(n); }
'''


def build(tmp):
    src = os.path.join(tmp, 'capi.cc')
    with open(src, 'w') as f:
        f.write(CAPI)
    lib = os.path.join(tmp, 'libdkgl.so')
    cmd = ['nvcc', '-O3', '-std=c++17', '--fmad=false', '-arch=sm_90', '-shared', '-Xcompiler', '-fPIC,-ffp-contract=off',
           '-Inative', 'native/audio_griffin_lim.cu', 'native/audio_griffin_lim.cc', 'native/audio_fft.cc',
           'native/thread_pool.cc', src, '-o', lib, '-ldl', '-lpthread']
    t0 = time.time()
    subprocess.run(cmd, check=True)
    return lib, time.time() - t0


def find_cufft():
    import site
    roots = site.getsitepackages() + [os.path.dirname(torch.__file__)]
    for r in roots:
        hits = sorted(glob.glob(os.path.join(r, '**', 'libcufft.so*'), recursive=True))
        if hits:
            return hits[0]
    return None


class Ours:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        f = self.lib.dk_gl
        f.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_double, ctypes.c_int,
                      ctypes.c_uint, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double),
                      ctypes.c_char_p, ctypes.c_int]
        f.restype = ctypes.c_int

    def gl(self, mag, n_fft, hop, win, iters, rand_init, cuda, seed=0, momentum=0.99):
        mag = np.ascontiguousarray(mag, dtype=np.float32)  # [bins][frames]
        frames = mag.shape[1]
        length = n_fft - 2 * (n_fft // 2) + hop * (frames - 1)
        out = np.zeros(length, dtype=np.float32)
        ms = ctypes.c_double(0)
        err = ctypes.create_string_buffer(512)
        rc = self.lib.dk_gl(mag.ctypes.data, n_fft, hop, win, iters, momentum, int(rand_init), seed, length, frames, int(cuda),
                            out.ctypes.data, ctypes.byref(ms), err, 512)
        if rc != 0:
            raise RuntimeError(err.value.decode())
        return out, ms.value


def spectral_convergence(target, wave_np, n_fft, hop, win):
    x = torch.tensor(wave_np, dtype=torch.float64)
    m = torch.stft(x, n_fft, hop, win, torch.hann_window(win, dtype=torch.float64), center=True, pad_mode='reflect',
                   return_complex=True).abs().numpy()
    t = target.astype(np.float64)
    return float(np.linalg.norm(m - t) / np.linalg.norm(t))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    logf = open(os.path.join(out_dir, 'gl_log.txt'), 'w')

    def log(s):
        print(s, flush=True)
        logf.write(s + '\n')
        logf.flush()

    cufft = find_cufft()
    if cufft:
        os.environ['DIFFUSEKIT_CUFFT'] = cufft
    log(f'cufft: {cufft}')
    lib, secs = build('/tmp')
    log(f'built {lib} in {secs:.1f} s')
    ours = Ours(lib)
    gpu = torch.cuda.get_device_name(0)
    log(f'GPU {gpu}, torch {torch.__version__}, torchaudio {torchaudio.__version__}, CPU threads {os.cpu_count()}')
    results = {'gpu': gpu, 'torch': torch.__version__, 'torchaudio': torchaudio.__version__, 'correctness': [], 'timing': []}

    # 1. correctness on the recorded fixture at Riffusion's setting (zero initial phase, 32 iterations)
    with wave.open('test/fixtures/audio/recording.wav', 'rb') as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float64) / 32768
    n_fft, hop, win = 17640, 441, 4410
    xt = torch.tensor(x, dtype=torch.float64)
    mag64 = torch.stft(xt, n_fft, hop, win, torch.hann_window(win, dtype=torch.float64), center=True, pad_mode='reflect',
                       return_complex=True).abs()
    mag = mag64.numpy().astype(np.float32)
    waves = {}
    for iters in (0, 32):
        ta_gpu = torchaudio.functional.griffinlim(torch.tensor(mag).cuda(), torch.hann_window(win).cuda(), n_fft, hop, win, 1.0, iters,
                                                  0.99, None, False).cpu().numpy()
        ta_cpu64 = torchaudio.functional.griffinlim(mag64, torch.hann_window(win, dtype=torch.float64), n_fft, hop, win, 1.0, iters, 0.99,
                                                    None, False).numpy()
        o_gpu, _ = ours.gl(mag, n_fft, hop, win, iters, False, True)
        o_cpu, _ = ours.gl(mag, n_fft, hop, win, iters, False, False)
        waves[iters] = (ta_gpu, ta_cpu64, o_gpu, o_cpu)
        peak = float(np.max(np.abs(ta_cpu64)))
        row = {'iterations': iters, 'length': len(o_gpu), 'torchaudioLength': len(ta_gpu),
               'ours_cuda_vs_torchaudio_cpu64': float(np.max(np.abs(o_gpu - ta_cpu64)) / peak),
               'ours_cpu_vs_torchaudio_cpu64': float(np.max(np.abs(o_cpu - ta_cpu64)) / peak),
               'torchaudio_cuda_vs_torchaudio_cpu64': float(np.max(np.abs(ta_gpu - ta_cpu64)) / peak),
               'ours_cuda_vs_torchaudio_cuda': float(np.max(np.abs(o_gpu - ta_gpu)) / peak),
               'sc_torchaudio_cuda': spectral_convergence(mag, ta_gpu, n_fft, hop, win),
               'sc_ours_cuda': spectral_convergence(mag, o_gpu, n_fft, hop, win),
               'sc_ours_cpu': spectral_convergence(mag, o_cpu, n_fft, hop, win)}
        log(json.dumps(row))
        results['correctness'].append(row)
    # random init: only the fit can be compared (different random phases)
    ta = torchaudio.transforms.GriffinLim(n_fft=n_fft, n_iter=32, win_length=win, hop_length=hop, power=1.0).cuda()
    ta_rand = ta(torch.tensor(mag).cuda()).cpu().numpy()
    o_rand, _ = ours.gl(mag, n_fft, hop, win, 32, True, True, seed=1)
    row = {'randInit': True, 'iterations': 32, 'sc_torchaudio_cuda': spectral_convergence(mag, ta_rand, n_fft, hop, win),
           'sc_ours_cuda': spectral_convergence(mag, o_rand, n_fft, hop, win)}
    log(json.dumps(row))
    results['correctness'].append(row)

    # 2. timing, same random magnitudes as training/audio/riffusion_reference.py's bench
    g = torch.Generator().manual_seed(0)
    settings = [('riffusion 512x512', 17640, 441, 4410, 512), ('n_fft 1024 hop 256, 512 frames', 1024, 256, 1024, 512),
                # the bundled models' own settings (models/*/diffusekit.json "representation"): one word / one note
                ('speech model: n_fft 1024 hop 256, 64 frames', 1024, 256, 1024, 64),
                ('music model: n_fft 2048 hop 256, 96 frames', 2048, 256, 2048, 96)]
    for name, n_fft, hop, win, frames in settings:
        m = (torch.rand((n_fft // 2 + 1, frames), generator=g, dtype=torch.float32) + 0.01)
        m_np = m.numpy()
        for iters in (32, 100):
            tg = torchaudio.transforms.GriffinLim(n_fft=n_fft, n_iter=iters, win_length=win, hop_length=hop, power=1.0).cuda()
            mg = m.cuda()
            tg(mg)
            torch.cuda.synchronize()
            reps = 5
            t0 = time.perf_counter()
            for _ in range(reps):
                tg(mg)
            torch.cuda.synchronize()
            ta_s = (time.perf_counter() - t0) / reps
            ours.gl(m_np, n_fft, hop, win, iters, True, True)  # warm: plans + buffers
            t0 = time.perf_counter()
            gms = 0
            for _ in range(reps):
                _, ms = ours.gl(m_np, n_fft, hop, win, iters, True, True)
                gms += ms
            ours_s = (time.perf_counter() - t0) / reps
            row = {'setting': name, 'iterations': iters, 'device': gpu, 'torchaudio_s': ta_s, 'ours_s': ours_s,
                   'ours_gpu_only_s': gms / reps / 1000, 'speedup': ta_s / ours_s}
            log(json.dumps(row))
            results['timing'].append(row)
            for threads in (16, 2):
                if n_fft == 17640 and (iters == 100 or threads == 2):
                    continue
                torch.set_num_threads(threads)
                ours_lib_threads = threads
                ours.lib.dk_set_threads(ours_lib_threads)
                tc = torchaudio.transforms.GriffinLim(n_fft=n_fft, n_iter=iters, win_length=win, hop_length=hop, power=1.0)
                tc(m)
                t0 = time.perf_counter()
                tc(m)
                ta_c = time.perf_counter() - t0
                ours.gl(m_np, n_fft, hop, win, min(iters, 2), True, False)
                t0 = time.perf_counter()
                ours.gl(m_np, n_fft, hop, win, iters, True, False)
                ours_c = time.perf_counter() - t0
                row = {'setting': name, 'iterations': iters, 'device': f'cpu ({threads} threads)', 'torchaudio_s': ta_c, 'ours_s': ours_c,
                       'speedup': ta_c / ours_c}
                log(json.dumps(row))
                results['timing'].append(row)
            torch.set_num_threads(16)
            ours.lib.dk_set_threads(16)
    with open(os.path.join(out_dir, 'griffin_lim_gpu.json'), 'w') as f:
        json.dump(results, f, indent=1)
    log('done')


if __name__ == '__main__':
    main()
