"""Writes test/fixtures/image/emoji-token-ids.json: CLIP BPE ids from clip_bpe.py (an implementation of
CLIP's algorithm independent of the SDK's tokenizer) for captions the SDK's tests re-tokenize."""
import json
import sys

from clip_bpe import ClipBpe

tok = ClipBpe(sys.argv[1] + "/vocab.json", sys.argv[1] + "/merges.txt", 32)
meta = json.load(open(sys.argv[2]))
caps = sorted({m["caption"] for m in meta})[::37][:60]
caps += ["red apple", "  Red   APPLE!! ", "woman: beard", "1st place medal", "don't stop", "it's a dog's life",
         "thumbs up medium-dark skin tone", "", "a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff",
         "zzzzqqqxxj unseenword", "smiling face with heart-eyes and 3 hearts"]
json.dump({"max_length": 32, "cases": [{"text": c, "ids": tok(c), "token_count": len(tok.encode_text(c))} for c in caps]},
          open(sys.argv[3], "w"))
print(len(caps))
