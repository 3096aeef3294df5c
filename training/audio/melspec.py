"""Log-mel representation shared by the speech and music recipes (numpy, float64).

The SDK inverts exactly this representation at inference time (inverse mel -> Griffin-Lim), so every
parameter here is written into the model's diffusekit.json by export; change them only together.
Formulas: hann window (periodic), centre/reflect-padded STFT, slaney mel scale with slaney area
normalisation (librosa's default filterbank), magnitude (power 1) spectrogram.
"""
import numpy as np


def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    lin = f / f_sp
    log = min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log, lin)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    lin = m * f_sp
    log = min_log_hz * np.exp(logstep * (m - min_log_mel))
    return np.where(m >= min_log_mel, log, lin)


def mel_filterbank(sr, n_fft, n_mels, fmin, fmax):
    """[n_mels, n_fft//2+1] triangular filters, slaney scale, slaney (area) normalisation."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_pts = np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2)
    hz_pts = mel_to_hz_slaney(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    fb = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        fb[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (hz_pts[2:n_mels + 2] - hz_pts[:n_mels])
    return fb * enorm[:, None]


def hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def stft_mag(x, n_fft, hop):
    """|STFT| [n_fft//2+1, frames], centre=True with reflect padding, periodic hann, win = n_fft."""
    pad = n_fft // 2
    xp = np.pad(x, pad, mode="reflect")
    frames = 1 + (len(xp) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.fft.rfft(xp[idx] * hann(n_fft)[None, :], axis=1)
    return np.abs(spec).T


def istft(spec, n_fft, hop, length):
    """Inverse of the STFT above (window-sum normalised overlap-add)."""
    frames = spec.shape[1]
    w = hann(n_fft)
    out = np.zeros(n_fft + hop * (frames - 1))
    wsum = np.zeros_like(out)
    tf = np.fft.irfft(spec.T, n=n_fft, axis=1)
    for t in range(frames):
        out[t * hop:t * hop + n_fft] += tf[t] * w
        wsum[t * hop:t * hop + n_fft] += w * w
    out = out / np.maximum(wsum, 1e-8)
    pad = n_fft // 2
    return out[pad:pad + length]


def stft_complex(x, n_fft, hop):
    pad = n_fft // 2
    xp = np.pad(x, pad, mode="reflect")
    frames = 1 + (len(xp) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(xp[idx] * hann(n_fft)[None, :], axis=1).T


def griffin_lim(mag, n_fft, hop, length, iters=32, momentum=0.99, seed=0):
    """Fast Griffin-Lim (Perraudin et al.), used only for listening checks during training."""
    rng = np.random.default_rng(seed)
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    prev = np.zeros_like(angles)
    for _ in range(iters):
        x = istft(mag * angles, n_fft, hop, length)
        rebuilt = stft_complex(x, n_fft, hop)
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = angles / np.maximum(np.abs(angles), 1e-16)
    return istft(mag * angles, n_fft, hop, length)


def inverse_mel(mel, fb):
    """Least-squares non-negative approximation: pseudo-inverse, clamped at 0."""
    return np.maximum(np.linalg.pinv(fb) @ mel, 0.0)


class LogMel:
    """log(max(mel, floor)) mapped linearly from [log_min, log_max] to [-1, 1]."""

    def __init__(self, sr, n_fft, hop, n_mels, fmin, fmax, frames, log_min, log_max):
        self.sr, self.n_fft, self.hop, self.n_mels = sr, n_fft, hop, n_mels
        self.fmin, self.fmax, self.frames = fmin, fmax, frames
        self.log_min, self.log_max = log_min, log_max
        self.fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
        # centre=True gives 1 + n // hop frames: this many samples give exactly `frames`.
        self.samples = (frames - 1) * hop

    def encode(self, x):
        mel = self.fb @ stft_mag(x, self.n_fft, self.hop)
        logmel = np.log(np.maximum(mel, np.exp(self.log_min)))
        return (2 * (logmel - self.log_min) / (self.log_max - self.log_min) - 1).astype(np.float32)

    def decode(self, img, iters=32):
        logmel = (np.asarray(img, np.float64) + 1) / 2 * (self.log_max - self.log_min) + self.log_min
        mel = np.exp(logmel)
        mag = inverse_mel(mel, self.fb)
        return griffin_lim(mag, self.n_fft, self.hop, self.samples, iters=iters)

    def config(self):
        return {
            "sampleRate": self.sr, "nFft": self.n_fft, "winLength": self.n_fft, "hopLength": self.hop,
            "window": "hann", "center": True, "padMode": "reflect", "power": 1,
            "nMels": self.n_mels, "fMin": self.fmin, "fMax": self.fmax, "melScale": "slaney", "melNorm": "slaney",
            "frames": self.frames, "logFloor": self.log_min, "logMin": self.log_min, "logMax": self.log_max,
            "normalisation": "x = 2 * (ln(max(mel, exp(logMin))) - logMin) / (logMax - logMin) - 1",
        }
