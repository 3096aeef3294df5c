"""Reference numbers for diffusekit's audio DSP, computed with torchaudio (run on the GPU machine).

1. The Riffusion recipe (riffusion-hobby's SpectrogramConverter + image_util, re-stated here from its
   parameters, not copied): 44.1 kHz, n_fft 17640, hop 441, win 4410, hann, center/reflect,
   |STFT| (power None -> abs), MelScale 512 htk bins 0-10 kHz norm None, then
   image = uint8(255 - 255 * (mel / max) ** 0.25), flipped so low frequencies are at the bottom.
   Computed on CUDA in float32 (what riffusion runs) and on CPU in float64.
2. The inverse path: image -> mel (max_value 30e6) -> torchaudio InverseMelScale (this torchaudio's
   semantics) -> linear magnitude, for a few frames.
3. A deterministic Griffin-Lim (rand_init=False, momentum 0.99) in float64 on CPU, to check our
   implementation sample by sample.
4. Timings of torchaudio.transforms.GriffinLim on the GPU and the CPU (Riffusion 512x512 setting and
   n_fft 1024 / hop 256) for bench/results/audio-dsp.md.

Usage: python3 training/audio/riffusion_reference.py test/fixtures/audio/recording.wav OUT_DIR
"""
import base64
import json
import os
import sys
import time
import wave

import numpy as np
import torch
import torchaudio

SR = 44100
N_FFT = 17640
HOP = 441
WIN = 4410
N_MELS = 512
F_MIN = 0.0
F_MAX = 10000.0


def b64(arr, dtype):
    return base64.b64encode(np.ascontiguousarray(arr, dtype=dtype).tobytes()).decode('ascii')


def read_wav_int16(path):
    with wave.open(path, 'rb') as w:
        assert w.getsampwidth() == 2 and w.getframerate() == SR, 'fixture must be 16-bit 44.1 kHz'
        ch = w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').reshape(-1, ch)
    # pydub's set_channels(1) averages channels; riffusion then feeds the int16 values as float32
    return data.astype(np.float64).mean(axis=1)


def mel_amplitudes(x, device, dtype):
    spec = torchaudio.transforms.Spectrogram(
        n_fft=N_FFT, hop_length=HOP, win_length=WIN, pad=0, window_fn=torch.hann_window, power=None,
        normalized=False, center=True, pad_mode='reflect', onesided=True).to(device=device, dtype=dtype)
    mel = torchaudio.transforms.MelScale(
        n_mels=N_MELS, sample_rate=SR, f_min=F_MIN, f_max=F_MAX, n_stft=N_FFT // 2 + 1, norm=None,
        mel_scale='htk').to(device=device, dtype=dtype)
    wav = torch.tensor(x, dtype=dtype, device=device)[None]
    lin = torch.abs(spec(wav))
    return lin[0].cpu().numpy().astype(np.float64), mel(lin)[0].cpu().numpy().astype(np.float64)


def image_from_mel(mel):
    data = mel / np.max(mel)
    data = np.power(data, 0.25) * 255
    data = (255 - data).astype(np.uint8)
    return data[::-1].copy()  # flip: row 0 = highest mel bin


def timeit(fn, reps, sync):
    fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t0) / reps


def bench(log):
    results = []
    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if cuda else None
    sync_gpu = torch.cuda.synchronize if cuda else (lambda: None)
    settings = [
        ('riffusion 512x512 (n_fft 17640, hop 441, win 4410)', 17640, 441, 4410, 512),
        ('n_fft 1024, hop 256, win 1024, 512 frames', 1024, 256, 1024, 512),
    ]
    g = torch.Generator().manual_seed(0)
    for name, n_fft, hop, win, frames in settings:
        mag = torch.rand((n_fft // 2 + 1, frames), generator=g, dtype=torch.float32) + 0.01
        for iters in (32, 100):
            for dev, threads in ([('cuda', None)] if cuda else []) + [('cpu', 16), ('cpu', 2)]:
                if dev == 'cpu' and n_fft == 17640 and iters == 100:
                    continue  # slow and adds nothing over the 32-iteration figure
                if threads:
                    torch.set_num_threads(threads)
                gl = torchaudio.transforms.GriffinLim(
                    n_fft=n_fft, n_iter=iters, win_length=win, hop_length=hop, power=1.0, momentum=0.99,
                    rand_init=True).to(dev)
                m = mag.to(dev)
                reps = 5 if dev == 'cuda' else 1
                sec = timeit(lambda: gl(m), reps, sync_gpu if dev == 'cuda' else (lambda: None))
                row = {'setting': name, 'n_fft': n_fft, 'hop': hop, 'win': win, 'frames': frames, 'iterations': iters,
                       'device': gpu if dev == 'cuda' else f'cpu ({threads} threads)', 'seconds': sec}
                log(json.dumps(row))
                results.append(row)
    torch.set_num_threads(16)
    return results


def main():
    wav_path, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    logf = open(os.path.join(out_dir, 'log.txt'), 'w')

    def log(s):
        print(s)
        logf.write(s + '\n')
        logf.flush()

    log(f'torch {torch.__version__} torchaudio {torchaudio.__version__} cuda {torch.cuda.is_available()}')
    x = read_wav_int16(wav_path)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    _, mel32 = mel_amplitudes(x, dev, torch.float32)
    lin64, mel64 = mel_amplitudes(x, 'cpu', torch.float64)
    img32 = image_from_mel(mel32)
    img64 = image_from_mel(mel64)
    frames = mel64.shape[1]
    log(f'frames {frames} max32 {mel32.max()} max64 {mel64.max()} image diff pixels {(img32 != img64).sum()}')

    # Inverse mel on the image decoded as riffusion does (max_value 30e6)
    spec_from_img = np.power((255 - img64[::-1].astype(np.float64)) / 255, 1 / 0.25) * 30e6
    inv_info = {}
    try:
        inv = torchaudio.transforms.InverseMelScale(
            n_stft=N_FFT // 2 + 1, n_mels=N_MELS, sample_rate=SR, f_min=F_MIN, f_max=F_MAX, norm=None,
            mel_scale='htk').to(torch.float64)
        lin_from_img = inv(torch.tensor(spec_from_img, dtype=torch.float64)).numpy()
        inv_frames = [0, frames // 2, frames - 1]
        inv_info = {'frames': inv_frames, 'driver': getattr(inv, 'driver', None),
                    'values': b64(lin_from_img[:, inv_frames].T, '<f4')}
    except Exception as e:  # noqa: BLE001 - record what this torchaudio does instead
        inv_info = {'error': repr(e)}
    log(f'inverse mel: {list(inv_info.keys())}')

    # Deterministic Griffin-Lim in float64: first 8000 samples scaled to [-1, 1)
    seg = torch.tensor(x[:8000] / 32768.0, dtype=torch.float64)
    gl_spec = torch.stft(seg, 512, 128, 512, torch.hann_window(512, dtype=torch.float64), center=True,
                         pad_mode='reflect', normalized=False, onesided=True, return_complex=True).abs()
    gl_out = torchaudio.functional.griffinlim(
        gl_spec, torch.hann_window(512, dtype=torch.float64), 512, 128, 512, 1.0, 16, 0.99, 8000, False)

    sel = [0, 1, frames // 3, frames // 2, frames - 2, frames - 1]
    ref = {
        'torch': torch.__version__, 'torchaudio': torchaudio.__version__,
        'device': torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu',
        'recipe': {'sampleRate': SR, 'nFft': N_FFT, 'hop': HOP, 'win': WIN, 'nMels': N_MELS, 'fMin': F_MIN,
                   'fMax': F_MAX, 'scale': 'htk', 'norm': None, 'powerForImage': 0.25},
        'frames': frames,
        'maxValue64': float(mel64.max()), 'maxValue32': float(mel32.max()),
        'image32': b64(img32, 'u1'), 'image64': b64(img64, 'u1'),
        'melFrames': sel, 'mel64': b64(mel64[:, sel].T, '<f8'),
        'linearFrames': sel[:2], 'linearBins': [0, 1, 100, 1000, 4000, 8820],
        'linear64': b64(lin64[[0, 1, 100, 1000, 4000, 8820]][:, sel[:2]].T, '<f8'),
        'inverseMel': inv_info,
        'griffinLim': {'nFft': 512, 'hop': 128, 'win': 512, 'iterations': 16, 'momentum': 0.99, 'randInit': False,
                       'length': 8000, 'input': 'first 8000 samples / 32768, |stft| float64',
                       'output': b64(gl_out.numpy(), '<f4')},
    }
    ref['bench'] = bench(log)
    with open(os.path.join(out_dir, 'riffusion_reference.json'), 'w') as f:
        json.dump(ref, f)
    log('done')


if __name__ == '__main__':
    main()
