"""Speech training data: single words spoken by espeak-ng, as fixed-size log-mel images.

Reproduces the data of models/speech (espeak-ng 1.51, Debian bookworm). Output (git-ignored):
  training/data/speech/train.npz   mels [N, 80, 64] float16, word [N], voice [N]
  training/data/speech/eval/*.wav  held-out renditions (16 kHz, same trimming), for the quality bench
  training/data/speech/meta.json   vocabulary, voices, representation
Usage: python3 training/audio/make_speech_data.py [--renditions 24] [--holdout 4]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, os.path.dirname(__file__))
from melspec import LogMel  # noqa: E402

# Digits first (ids 0-9 = the digit), then everyday words that pocketsphinx tells apart well:
# distinct vowels and consonants, one or two syllables.
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "yes", "paper", "table", "go", "left", "right", "orange", "down", "morning", "water",
         "coffee", "music", "happy", "apple", "yellow", "green", "blue", "red", "house", "window"]

# Voice id -> espeak-ng voice: eight accents crossed with male/female variants.
VOICES = ["en-us", "en-us+f2", "en-gb+m3", "en-gb-x-rp+f4", "en-gb-scotland+m1",
          "en-029+f1", "en-us-nyc+m2", "en-gb-x-gbclan+f3", "en-gb-x-gbcwmd+m4", "en-gb+f5"]

SR = 16000
REP = LogMel(sr=SR, n_fft=1024, hop=256, n_mels=80, fmin=0.0, fmax=8000.0, frames=64,
             log_min=-11.5, log_max=2.5)
LEAD = 800  # samples of silence before the word (50 ms)


def read_wav(path):
    with wave.open(path, "rb") as w:
        sr = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
    return x, sr


def write_wav(path, x, sr):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes())


def trim(x, hop=256, db=-40.0):
    """Cuts leading/trailing silence: frames quieter than `db` relative to the loudest frame."""
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[:n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    on = np.nonzero(rms > rms.max() * 10 ** (db / 20))[0]
    return x[max(on[0] - 1, 0) * hop:min(on[-1] + 2, n) * hop]


def place(x):
    """Peak-normalises to 0.5 and places the word 50 ms into a fixed-length clip."""
    x = 0.5 * x / max(np.abs(x).max(), 1e-9)
    out = np.zeros(REP.samples)
    m = min(len(x), REP.samples - LEAD)
    out[LEAD:LEAD + m] = x[:m]
    if m < len(x):  # a slow rendition that overruns: fade the cut so it does not click
        out[LEAD + m - 256:LEAD + m] *= np.linspace(1, 0, 256)
    return out, m < len(x)


def render(word, voice, pitch, speed, tmp):
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", tmp, word], check=True)
    x, sr = read_wav(tmp)
    assert sr == 22050, sr  # espeak-ng's native rate; 16000/22050 = 320/441
    return resample_poly(x, 320, 441)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--renditions", type=int, default=24)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../data/speech"))
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "eval"), exist_ok=True)
    rng = np.random.default_rng(1234)
    mels, wid, vid, cut = [], [], [], 0
    evals = []
    tmp = os.path.join(tempfile.mkdtemp(), "w.wav")
    for w, word in enumerate(WORDS):
        for v, voice in enumerate(VOICES):
            for r in range(args.renditions):
                pitch = int(rng.integers(25, 76))
                speed = int(rng.integers(130, 211))
                x = trim(render(word, voice, pitch, speed, tmp))
                x, was_cut = place(x)
                cut += was_cut
                if r >= args.renditions - args.holdout:
                    name = f"{word}_{v}_{r}.wav"
                    write_wav(os.path.join(args.out, "eval", name), x, SR)
                    evals.append({"file": name, "word": word, "voice": v, "pitch": pitch, "speed": speed})
                else:
                    mels.append(REP.encode(x))
                    wid.append(w)
                    vid.append(v)
        print(f"{word}: {len(mels)} train clips, {cut} cut", flush=True)
    mels = np.stack(mels)
    np.savez_compressed(os.path.join(args.out, "train.npz"), mels=mels.astype(np.float16),
                        word=np.array(wid, np.int64), voice=np.array(vid, np.int64))
    meta = {"words": WORDS, "voices": VOICES, "representation": REP.config(), "leadSamples": LEAD,
            "renditions": args.renditions, "holdout": args.holdout, "eval": evals, "cut": cut,
            "stats": {"min": float(mels.min()), "max": float(mels.max()), "mean": float(mels.mean())}}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta["stats"]), "clips", len(mels), "eval", len(evals), "cut", cut)


if __name__ == "__main__":
    main()
