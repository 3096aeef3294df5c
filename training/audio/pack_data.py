"""Packs train.npz of speech and music into uint8 (2/255 steps over [-1, 1]) for the trip to the GPU machine.

The carry to the GPU machine is limited (64 MiB with the working tree); float16 log-mels do not compress
well, 8-bit ones do. The step (0.0078, i.e. 0.055 in natural-log units, 5.6% in amplitude) is below what
Griffin-Lim reconstruction preserves anyway. train.py maps uint8 back to [-1, 1].
Usage: python3 training/audio/pack_data.py  ->  training/data/audio/{speech,music}.npz
"""
import os

import numpy as np

root = os.path.join(os.path.dirname(__file__), "../data")
os.makedirs(os.path.join(root, "audio"), exist_ok=True)
for name in ("speech", "music"):
    d = dict(np.load(os.path.join(root, name, "train.npz")))
    d["mels"] = np.round((d["mels"].astype(np.float32) + 1) / 2 * 255).clip(0, 255).astype(np.uint8)
    np.savez_compressed(os.path.join(root, "audio", name + ".npz"), **d)
    print(name, d["mels"].shape, os.path.getsize(os.path.join(root, "audio", name + ".npz")) // 1024, "KiB")
