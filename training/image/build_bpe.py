"""Learns a CLIP-format BPE (vocab.json + merges.txt) from the emoji training captions.

The files have exactly CLIP's layout so that the SDK's tokenizer reads ours and a real Stable
Diffusion tokenizer the same way: the 256 byte-level characters, the same with the `</w>` word end,
one entry per merge, then <|startoftext|> and <|endoftext|>; merges.txt starts with `#version: 0.2`.
Only training captions are used (held-out words get split into known pieces).

usage: python3 build_bpe.py training/data/emoji/meta.json models/emoji/tokenizer 1200
"""
import collections
import json
import os
import re
import sys


def bytes_to_unicode():
    # GPT-2/CLIP's reversible byte -> printable character table
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


# CLIP's pre-tokenizer, for the ASCII-ish text of captions: letters runs, single digits, punctuation runs
PAT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.UNICODE)


def words_of(text, b2u):
    text = re.sub(r"\s+", " ", text.strip()).lower()
    return ["".join(b2u[b] for b in w.encode("utf-8")) for w in PAT.findall(text)]


def main():
    meta_path, out_dir, n_merges = sys.argv[1], sys.argv[2], int(sys.argv[3])
    items = json.load(open(meta_path))
    b2u = bytes_to_unicode()
    counts = collections.Counter()
    for it in items:
        if it["heldout"]:
            continue
        for cap in [it["caption"], *it["alts"]]:
            for w in words_of(cap, b2u):
                counts[tuple(w[:-1]) + (w[-1] + "</w>",)] += 1
    words = dict(counts)
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        # ties broken by the pair itself so the result does not depend on dict order
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    vocab = list(b2u.values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    print(f"{len(merges)} merges, vocab {len(vocab)}")


if __name__ == "__main__":
    main()
