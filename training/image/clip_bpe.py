"""CLIP's BPE tokenization (lowercase, whitespace clean, regex split, byte-level, `</w>` merges),
written from the algorithm's description, for tokenizing captions in training. The SDK's TypeScript
tokenizer must give the same ids; test/fixtures/image/emoji-token-ids.json records these for a test.
"""
import json
import re

from build_bpe import PAT, bytes_to_unicode


class ClipBpe:
    def __init__(self, vocab_path, merges_path, max_length):
        self.encoder = json.load(open(vocab_path))
        lines = open(merges_path).read().split("\n")
        merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.b2u = bytes_to_unicode()
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]
        self.max_length = max_length
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b), 1e18), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == 1e18:
                break
            a, b = word[_], word[_ + 1]
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        self.cache[token] = word
        return word

    def encode_text(self, text):
        text = re.sub(r"\s+", " ", text.strip()).lower()
        ids = []
        for w in PAT.findall(text):
            w = "".join(self.b2u[b] for b in w.encode("utf-8"))
            ids += [self.encoder.get(t, self.eot) for t in self.bpe(w)]
        return ids

    def __call__(self, text):
        """SOT + ids (truncated) + EOT, padded with EOT to max_length (SD v1's pad token)."""
        ids = self.encode_text(text)[: self.max_length - 2]
        ids = [self.sot] + ids + [self.eot]
        return ids + [self.eot] * (self.max_length - len(ids))
