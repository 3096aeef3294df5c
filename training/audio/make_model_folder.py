"""Assembles models/<speech|music>/ from a training run (the GPU job's outputs) and the data's meta.json.

Usage: python3 training/audio/make_model_folder.py --model speech --onnx speech.onnx --run RUNDIR
  RUNDIR holds train_info.json and scheduler_config.json (from train.py); the data's meta.json is read
  from training/data/<model>/meta.json. MODEL_CARD.md is written separately (it carries measurements).
"""
import argparse
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["speech", "music"], required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--guidance", type=float, default=None, help="default: 2 (speech), 3 (music), as measured")
    ap.add_argument("--sampler", default="DDIM")
    ap.add_argument("--meta", default=None, help="default: training/data/<model>/meta.json")
    ap.add_argument("--out", default=None, help="default: models/<model>")
    args = ap.parse_args()
    meta = json.load(open(args.meta or os.path.join(ROOT, "training/data", args.model, "meta.json")))
    info = json.load(open(os.path.join(args.run, "train_info.json")))
    sched = json.load(open(os.path.join(args.run, "scheduler_config.json")))
    out = args.out or os.path.join(ROOT, "models", args.model)
    os.makedirs(os.path.join(out, "unet"), exist_ok=True)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    shutil.copyfile(args.onnx, os.path.join(out, "unet", "model.onnx"))
    # inference choice, measured (MODEL_CARD.md): DDIM over 'trailing' timesteps ends on the x0 estimate
    # from t = 1000/steps - 1, which is smoother than running down to t = 0 with this model
    sched["timestep_spacing"] = "trailing"
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(sched, f, indent=2)
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump({"_class_name": "DiffuseKitMelPipeline", "_diffusers_version": sched.get("_diffusers_version", "0.30.0"),
                   "scheduler": ["diffusers", sched["_class_name"]], "unet": ["diffusekit", "MelUNet2D"]}, f, indent=2)
    rep = dict(meta["representation"])
    cfg = {
        "modality": "audio", "task": args.model, "name": args.model,
        "defaults": {"steps": args.steps, "guidance": args.guidance or (2.0 if args.model == "speech" else 3.0), "sampler": args.sampler},
        "representation": rep,
        "postFilter": {"median": [7, 5] if args.model == "speech" else [1, 5],
                       "why": "the model leaves pixel-level residual noise in the log-mel image; a median before inversion removes it "
                              "(measured: MODEL_CARD.md); music filters along time only, to keep narrow harmonics"},
        "classLabels": {"input": "class_labels", "columns": [], "nullId": "each column's size (unconditional)"},
        "training": {"gpu": info["gpu"], "steps": info["steps"], "seconds": info["trainSeconds"], "batch": info["batch"],
                     "params": info["params"], "torch": info["torch"], "onnxVerify": info.get("onnxVerify")},
    }
    if args.model == "speech":
        cfg["words"] = meta["words"]
        cfg["voices"] = meta["voices"]
        cfg["classLabels"]["columns"] = [{"name": "word", "size": len(meta["words"])}, {"name": "voice", "size": len(meta["voices"])}]
    else:
        names = list(meta["instruments"].keys())
        cfg["instruments"] = names
        cfg["gmPrograms"] = meta["instruments"]
        cfg["pitchRange"] = meta["pitches"]
        hop = rep["hopLength"]
        onset = round(meta["leadSamples"] / hop)
        cfg["note"] = {"onsetFrame": onset, "attackFrames": 5,
                       "releaseFrame": round((meta["leadSamples"] + meta["noteSeconds"] * rep["sampleRate"]) / hop)}
        cfg["classLabels"]["columns"] = [{"name": "pitch", "size": meta["pitches"][1] - meta["pitches"][0] + 1, "offset": meta["pitches"][0]},
                                         {"name": "instrument", "size": len(names)}]
    with open(os.path.join(out, "diffusekit.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print("wrote", out, os.path.getsize(os.path.join(out, "unet", "model.onnx")) // 1024, "KiB")


if __name__ == "__main__":
    main()
