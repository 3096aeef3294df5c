"""Quick check of the GPU job's torch DDIM samples (samples.npz): numpy Griffin-Lim, then pocketsphinx
(speech) or aubiopitch (music), as bench/quality-audio.ts measures the SDK's output.

Usage: python3 training/audio/check_samples.py speech|music SAMPLES.npz [--limit N]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_speech_data import REP as SPEECH_REP, WORDS, write_wav  # noqa: E402
from make_music_data import REP as MUSIC_REP  # noqa: E402

HMM = "/usr/share/pocketsphinx/model/en-us/en-us"
DICT = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"


def sphinx_setup(tmp):
    lines = [l for l in open(DICT) if l.split()[0].split("(")[0] in WORDS]
    with open(os.path.join(tmp, "v.dict"), "w") as f:
        f.writelines(lines)
    with open(os.path.join(tmp, "v.jsgf"), "w") as f:
        f.write("#JSGF V1.0;\ngrammar vocab;\npublic <word> = " + " | ".join(WORDS) + " ;\n")


def recognise(wavdir, names, tmp):
    tmp = tempfile.mkdtemp(dir=tmp)  # concurrent runs must not share ctl/hyp files
    sphinx_setup(tmp)
    with open(os.path.join(tmp, "ctl"), "w") as f:
        f.write("\n".join(names) + "\n")
    hyp = os.path.join(tmp, "hyp.txt")
    subprocess.run(["pocketsphinx_batch", "-adcin", "yes", "-adchdr", "44", "-cepdir", wavdir, "-cepext", ".wav",
                    "-ctl", os.path.join(tmp, "ctl"), "-jsgf", os.path.join(tmp, "v.jsgf"), "-dict", os.path.join(tmp, "v.dict"),
                    "-hmm", HMM, "-hyp", hyp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    out = {}
    for line in open(hyp):
        if "(" not in line:
            continue
        text, rest = line.rsplit("(", 1)
        out[rest.split()[0]] = text.strip()
    return out


def median_pitch(path):
    out = subprocess.run(["aubiopitch", "-i", path, "-u", "midi", "-p", "yinfft"], capture_output=True, text=True).stdout.split()
    v = np.array([float(x) for x in out[1::2]])
    v = v[v > 0]
    return float(np.median(v)) if len(v) else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["speech", "music"])
    ap.add_argument("samples")
    ap.add_argument("--limit", type=int, default=100000)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    d = np.load(args.samples)
    labels = d["labels"][:args.limit]
    tmp = tempfile.mkdtemp()
    res = {}
    for key in [k for k in d.files if k != "labels"]:
        imgs = d[key][:args.limit].astype(np.float64)
        if d[key].dtype == np.uint8:  # train.py returns sweep samples as uint8 over [-1, 1]
            imgs = imgs / 255 * 2 - 1
        wavdir = os.path.join(tmp, key)
        os.makedirs(wavdir)
        names = []
        for i, (img, lab) in enumerate(zip(imgs, labels)):
            rep = SPEECH_REP if args.model == "speech" else MUSIC_REP
            y = rep.decode(img)
            y = 0.5 * y / max(np.abs(y).max(), 1e-9)
            name = f"s{i}_{lab[0]}_{lab[1]}"
            write_wav(os.path.join(wavdir, name + ".wav"), y, rep.sr)
            names.append(name)
        if args.model == "speech":
            sphinx_setup(tmp)
            hyp = recognise(wavdir, names, tmp)
            ok = [hyp.get(n) == WORDS[int(n.split("_")[1])] for n in names]
            res[key] = {"accuracy": float(np.mean(ok)), "n": len(ok)}
        else:
            errs = [median_pitch(os.path.join(wavdir, n + ".wav")) - (36 + int(n.split("_")[1])) for n in names]
            res[key] = {"within50cents": float(np.mean(np.abs(errs) < 0.5)), "n": len(errs)}
        print(key, json.dumps(res[key]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
