"""Music training data: single notes rendered by fluidsynth from FluidR3_GM, as fixed-size log-mel images.

Reproduces the data of models/music (fluidsynth 2.3, fluid-soundfont-gm 3.1, Debian bookworm). For each
instrument one MIDI file holds every (pitch, velocity) note, 2 s apart; fluidsynth renders it once
(loading the 140 MB soundfont per note would be slow) and the notes are cut out of the render.
Output (git-ignored):
  training/data/music/train.npz   mels [N, n_mels, frames] float16, pitch [N] (MIDI), instrument [N], velocity [N]
  training/data/music/eval/*.wav  held-out velocities, for the quality bench
  training/data/music/meta.json
Usage: python3 training/audio/make_music_data.py
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from melspec import LogMel  # noqa: E402
from make_speech_data import read_wav, write_wav  # noqa: E402

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# name -> General MIDI program number (0-based, as in the MIDI program-change message)
INSTRUMENTS = {"piano": 0, "organ": 19, "guitar": 24, "violin": 40, "trumpet": 56, "flute": 73}
PITCHES = list(range(36, 97))
TRAIN_VELOCITIES = [50, 70, 90, 110, 127]
EVAL_VELOCITIES = [80, 100]
SPACING = 2.0  # seconds between note onsets in the render
SR = 22050
REP = LogMel(sr=SR, n_fft=2048, hop=256, n_mels=128, fmin=0.0, fmax=11025.0, frames=96,
             log_min=-11.5, log_max=3.5)
NOTE_SECONDS = 0.75  # note-on length: the clip (1.1 s) keeps the release tail
LEAD = 256  # samples of silence before the onset


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_file(program, notes):
    """Format-0 MIDI: 480 ticks per quarter at 120 bpm (960 ticks/s); notes = [(pitch, velocity)]."""
    tps = 960
    events = [(0, bytes([0xC0, program]))]
    for i, (p, v) in enumerate(notes):
        on = round(i * SPACING * tps)
        events.append((on, bytes([0x90, p, v])))
        events.append((on + round(NOTE_SECONDS * tps), bytes([0x80, p, 0])))
    events.sort(key=lambda e: e[0])
    track, last = b"", 0
    for t, e in events:
        track += vlq(t - last) + e
        last = t
    track += vlq(tps) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def render(program, notes, tmpdir):
    mid = os.path.join(tmpdir, "n.mid")
    wav = os.path.join(tmpdir, "n.wav")
    with open(mid, "wb") as f:
        f.write(midi_file(program, notes))
    # no reverb/chorus: dry notes; gain 0.6 keeps loud chords below clipping
    subprocess.run(["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(SR), "-F", wav,
                    SOUNDFONT, mid], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    x, sr = read_wav_any(wav)
    assert sr == SR, sr
    clips = []
    for i in range(len(notes)):
        start = round(i * SPACING * SR)
        seg = x[start:start + REP.samples - LEAD]
        clip = np.zeros(REP.samples)
        clip[LEAD:LEAD + len(seg)] = seg
        clips.append(clip)
    return clips


def read_wav_any(path):
    """fluidsynth writes 16-bit stereo: mix to mono."""
    import wave
    with wave.open(path, "rb") as w:
        ch, sr = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
    return x.reshape(-1, ch).mean(axis=1), sr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../data/music"))
    ap.add_argument("--pitches", default=None, help="comma list, for quick tests")
    args = ap.parse_args()
    pitches = [int(p) for p in args.pitches.split(",")] if args.pitches else PITCHES
    os.makedirs(os.path.join(args.out, "eval"), exist_ok=True)
    tmpdir = tempfile.mkdtemp()
    mels, pid, iid, vel, evals = [], [], [], [], []
    peak = 0.0
    for i, (name, program) in enumerate(INSTRUMENTS.items()):
        notes = [(p, v) for p in pitches for v in TRAIN_VELOCITIES + EVAL_VELOCITIES]
        clips = render(program, notes, tmpdir)
        for (p, v), clip in zip(notes, clips):
            peak = max(peak, float(np.abs(clip).max()))
            if v in EVAL_VELOCITIES:
                f = f"{name}_{p}_{v}.wav"
                write_wav(os.path.join(args.out, "eval", f), clip, SR)
                evals.append({"file": f, "instrument": name, "pitch": p, "velocity": v})
            else:
                mels.append(REP.encode(clip))
                pid.append(p)
                iid.append(i)
                vel.append(v)
        print(name, len(mels), "peak", peak, flush=True)
    mels = np.stack(mels)
    np.savez_compressed(os.path.join(args.out, "train.npz"), mels=mels.astype(np.float16), pitch=np.array(pid),
                        instrument=np.array(iid), velocity=np.array(vel))
    meta = {"instruments": INSTRUMENTS, "pitches": [pitches[0], pitches[-1]], "trainVelocities": TRAIN_VELOCITIES,
            "evalVelocities": EVAL_VELOCITIES, "noteSeconds": NOTE_SECONDS, "leadSamples": LEAD,
            "representation": REP.config(), "eval": evals, "peak": peak,
            "stats": {"min": float(mels.min()), "max": float(mels.max()), "mean": float(mels.mean())}}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta["stats"]), "clips", len(mels), "eval", len(evals))


if __name__ == "__main__":
    main()
