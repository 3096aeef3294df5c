"""Merges what bench/device/e2e_job.sh's processes wrote into OUT/summary.md and OUT/results.json.

  python3 bench/device/summarize.py RUN_DIR OUT_DIR BUDGET_S ELAPSED_S

RUN_DIR holds machine.txt, skipped.txt, e2e-<model>.json (bench/end-to-end.ts BENCH_JSON) and ref-<model>.json
(bench/reference.ts BENCH_JSON). Standard library only.
"""
import glob
import json
import os
import sys

RUN, OUT = sys.argv[1], sys.argv[2]
BUDGET = int(sys.argv[3]) if len(sys.argv) > 3 else 0
ELAPSED = int(sys.argv[4]) if len(sys.argv) > 4 else 0
ORDER = ["speech", "music", "emoji", "shapes"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:  # missing or cut short
        return {"_error": f"{type(e).__name__}: {e}"}


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def name_of(path, prefix):
    return os.path.basename(path)[len(prefix):-len(".json")]


def ms(v):
    if v is None:
        return "—"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ex(v):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:.1e}"


def sort_key(n):
    return ORDER.index(n) if n in ORDER else len(ORDER)


e2e = {name_of(p, "e2e-"): load(p) for p in glob.glob(os.path.join(RUN, "e2e-*.json"))}
ref = {name_of(p, "ref-"): load(p) for p in glob.glob(os.path.join(RUN, "ref-*.json"))}
machine = read(os.path.join(RUN, "machine.txt"))
skipped = [l for l in read(os.path.join(RUN, "skipped.txt")).splitlines() if l.strip()]

md = []
md.append("# diffusekit, issue 8: one default generation per bundled model on the GPU machine's CPU")
md.append("")
md.append("The other GPUs of this machine were busy training during the run; those processes were pinned to")
md.append("other cores than the ones below. Every process of this job (node, python) ran pinned to the same cores")
md.append("(taskset), with the same thread count on every side.")
md.append("")
md.append("```")
md.append(machine)
md.append(f"job wall time {ELAPSED} s of a {BUDGET} s budget")
md.append("```")
md.append("")

# ---------------------------------------------------------------- where the time goes
md.append("## Where the time goes (bench/end-to-end.ts: the public pipelines, timed from outside)")
md.append("")
md.append("Times in ms: one warm-up generation, then the median of the timed ones (`reps`). *SDK overhead* is the")
md.append("loop span minus model and sampler time (input scaling, batching, tensor wrapping, checks, progress")
md.append("callback); *decode* is Griffin-Lim / VAE decode / channel split; *save* is the file written (I/O).")
md.append("")
head = ["model", "evals, sampler", "load", "total", "pre-loop", "loop", "unet (% of total)", "sampler math", "SDK overhead",
        "text enc", "decode (VAE)", "save (I/O)", "ms/eval", "overhead % of a step (max)", "< 3%?", "reps"]
md.append("| " + " | ".join(head) + " |")
md.append("|" + "---|" * len(head))
e2e_notes = []
for n in sorted(e2e, key=sort_key):
    d = e2e[n]
    if "_error" in d:
        e2e_notes.append(f"- {n}: no result file ({d['_error']})")
        continue
    for k, v in (d.get("notes") or {}).items():
        if v.startswith("skipped") or v.startswith("error") or "not there" in v:
            skipped.append(f"end-to-end {k}: {v}")
    for b in d.get("rows", []):
        reps = "warm-up only ¹" if b.get("reps") == 0 else str(b.get("reps", "?"))
        worst = b.get("maxOverheadPct") or b["overheadPct"]
        ok = "yes" if worst < 3 else ("median yes" if b["overheadPct"] < 3 else "NO")
        vae = f" ({ms(b['vaeMs'])})" if b.get("vaeMs") else ""
        md.append(
            f"| {b['model']} | {b['steps']}, {b['sampler']} | {ms(b['loadMs'])} | {ms(b['totalMs'])} | {ms(b['preMs'])} | {ms(b['loopMs'])} | "
            f"{ms(b['unetMs'])} ({100 * b['unetMs'] / b['totalMs']:.0f}%) | {ms(b['samplerMs'])} | {ms(b['overheadMs'])} | {ms(b['textEncoderMs'])} | "
            f"{ms(b['decodeMs'])}{vae} | {ms(b['saveMs'])} | {ms(b['stepMs'])} | {b['overheadPct']:.2f}% ({worst:.2f}%) | {ok} | {reps} |"
        )
md.append("")
if e2e:
    first = next(iter(e2e.values()))
    md.append(f"Threads: onnxruntime intra-op {first.get('threads')}, native addon {first.get('nativeThreads')}. Each model ran in its")
    md.append(f"own process; \"reps\": BENCH_REPS timed generations unless marked. What each model ran:")
    for n in sorted(e2e, key=sort_key):
        for k, v in (e2e[n].get("notes") or {}).items():
            md.append(f"- {k}: {v}")
md += e2e_notes
if not e2e:
    md.append("(not run)")
md.append("")

# ---------------------------------------------------------------- SDK vs Python
md.append("## This SDK vs Python on the same cores (bench/reference.ts)")
md.append("")
md.append("The sampling loop of one default generation (model folder's sampler, steps, guidance; same initial noise):")
md.append("diffusekit (OnnxDenoiser + sample()), Python onnxruntime on the same ONNX files with a numpy sampler, and")
md.append("PyTorch running the training recipes' modules with the weights read back from the ONNX files and a torch")
md.append("sampler (bench/reference/loop.py, diffusers' update rules). Times in ms: loop (model; process CPU time).")
md.append("Speed-up = the other side's loop time / the SDK's (> 1: the SDK is faster). Checks against the SDK: the final")
md.append("sample (max |Δx|), the network alone on the SDK's first model input, and the sampler alone fed the SDK's own")
md.append("x and model outputs step by step (max |Δ| relative to max |x|; float32 rounding is ~1e-7; 0 = the same")
md.append("bits). onnxruntime runs the same graph on both sides, so its final Δx is 0 when everything agrees; PyTorch's")
md.append("kernels round differently (the network column), and a sensitive network carries that through the steps:")
md.append("its final Δx is not a sampler difference when its sampler column is ~1e-7 or 0.")
md.append("")
torch_label = "PyTorch"
for d in ref.values():
    for r in (d.get("torch", {}).get("results") or {}).values():
        if r.get("backend"):
            torch_label = r["backend"].split(",")[0]
head = ["model", "steps (evals), sampler, CFG", "SDK", "Python ORT", "SDK speed-up vs ORT", torch_label, "SDK speed-up vs PyTorch",
        "final max abs Δx: ORT / torch (max abs x)", "network Δ: ORT / torch", "sampler Δ (rel.): ORT / torch"]
md.append("| " + " | ".join(head) + " |")
md.append("|" + "---|" * len(head))
extra = []
split_rows = []


def cell(r):
    if not r:
        return "—"
    if r.get("error"):
        return f"error: {r['error']}"
    if r.get("skipped"):
        return r["skipped"]
    return f"{ms(r.get('loop'))} ({ms(r.get('model_ms'))}; {ms(r.get('loop_cpu'))})" + (" ¹" if r.get("reps") == 0 else "")


for n in sorted(ref, key=sort_key):
    d = ref[n]
    if "_error" in d:
        extra.append(f"- {n}: no result file ({d['_error']})")
        continue
    for side in ("ort", "torch"):
        e = (d.get(side) or {}).get("error")
        if e and e != "not run":
            extra.append(f"- {n}, {side}: {e}")
            skipped.append(f"reference {n}, {'Python onnxruntime' if side == 'ort' else 'PyTorch'} side: {e}")
        for r in ((d.get(side) or {}).get("results") or {}).values():
            if r.get("skipped") or r.get("error"):
                skipped.append(f"reference {r['model']}, {r.get('backend', side).split(',')[0]}: {r.get('skipped') or r.get('error')}")
    models = {m["name"]: m for m in d.get("models", [])}
    for name, s in (d.get("sdk") or {}).items():
        if isinstance(s, str):
            extra.append(f"- {name}: SDK side {s}")
            skipped.append(f"reference {name}: {s}")
            continue
        m = models.get(name, {})
        o = (d.get("ort") or {}).get("results", {}).get(name)
        t = (d.get("torch") or {}).get("results", {}).get(name)

        def ratio(r):
            return f"{r['loop'] / s['loop']:.2f}×" if r and r.get("loop") else "—"

        refmax = (o or {}).get("ref_max") or (t or {}).get("ref_max")
        md.append(
            f"| {name} | {m.get('steps')} ({s.get('evals')}), {m.get('sampler')}, CFG {m.get('guidance')} | "
            f"{ms(s['loop'])} ({ms(s['model'])}; {ms(s['cpu'])}){' ¹' if s.get('reps') == 0 else ''} | {cell(o)} | {ratio(o)} | {cell(t)} | {ratio(t)} | "
            f"{ex((o or {}).get('diff'))} / {ex((t or {}).get('diff'))}{f' ({refmax:.2f})' if refmax else ''} | "
            f"{ex((o or {}).get('model_diff'))} / {ex((t or {}).get('model_diff'))} | {ex((o or {}).get('step_diff'))} / {ex((t or {}).get('step_diff'))} |"
        )
        split_rows.append((name, "diffusekit", s["loop"], s["model"], None, s.get("loadS")))
        for lab, r in (("Python ORT", o), (torch_label, t)):
            if r and r.get("loop"):
                split_rows.append((name, lab, r["loop"], r.get("model_ms"), r.get("sampler"), r.get("load_s")))
                if name == "emoji":
                    extra.append(f"- emoji, {lab}: text encoder {ms(r.get('text'))} ms, VAE decode {ms(r.get('decode'))} ms (outside the loop)")
        for lab, r in (("Python ORT", o), (torch_label, t)):
            if not r:
                continue
            if r.get("net"):
                extra.append(f"- {name}, {lab}: {r['net']}")
            for k in ("plan_t_diff", "plan_sigma_diff"):
                v = r.get(k)
                if isinstance(v, str) or (isinstance(v, (int, float)) and v > 1e-3):
                    extra.append(f"- {name}, {lab}: its plan differs from the SDK's ({k} {ex(v)})")
            if r.get("note"):
                extra.append(f"- {name}, {lab}: {r['note']}")
        sched = m.get("scheduler") or {}
        keys = ("_class_name", "prediction_type", "timestep_spacing", "use_karras_sigmas", "sigma_min", "sigma_max", "solver_order", "clip_sample")
        extra.append(f"- {name}: sampler config " + ", ".join(f"{k}={sched[k]}" for k in keys if k in sched))
md.append("")
if any(r[0] for r in split_rows):
    md.append("Inside the loop (ms): model time, and what is left (sampler math + loop overhead; Python: its sampler")
    md.append("time as measured around the guidance + step), with each side's model load time.")
    md.append("")
    md.append("| model | side | loop | model | outside the model (% of loop) | of which sampler | load s |")
    md.append("|---|---|---|---|---|---|---|")
    for name, lab, loop, model, samp, load_s in split_rows:
        outside = loop - model if model is not None else None
        pct = f" ({100 * outside / loop:.1f}%)" if outside is not None and loop else ""
        md.append(f"| {name} | {lab} | {ms(loop)} | {ms(model)} | {ms(outside)}{pct} | {ms(samp)} | {'—' if load_s is None else f'{load_s:.1f}'} |")
    md.append("")
md += extra
if any("¹" in l for l in md):
    md.append("")
    md.append("¹ time budget: the warm-up generation is the timing (no timed repetition fitted).")
if not ref:
    md.append("(not run)")
md.append("")
md.append("## Skipped or failed")
md.append("")
md += [f"- {l}" for l in skipped] or ["- nothing"]
md.append("")

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "summary.md"), "w") as f:
    f.write("\n".join(md) + "\n")
with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump({"machine": machine, "budget_s": BUDGET, "elapsed_s": ELAPSED, "end_to_end": e2e, "reference": ref, "skipped": skipped}, f, indent=1)
print("\n".join(md))
