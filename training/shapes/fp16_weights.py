"""Stores an ONNX model's float32 weights as float16, computing in float32 as before.

Each float32 initializer of at least --min-size numbers is replaced by a float16 copy and a Cast back to float32
at the head of the graph. ONNX Runtime folds the Casts when it loads the session, so the network runs in float32
at the same speed, on weights rounded to float16 (relative error at most 2^-11). This halves the files (the
issue's budget for the `shapes` model folder is 20 MB). The weights trained in bf16 autocast, and the EMA
weights are kept in float16 (latent_ema.pt), so the rounding loses nothing the training relied on.
Inputs, outputs and metadata are unchanged.

    python3 training/shapes/fp16_weights.py IN.onnx OUT.onnx      (needs the onnx package: /usr/bin/python3 here)
"""
import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper


def fp16_weights(model, min_size=16):
    g = model.graph
    inputs = {i.name for i in g.input}
    casts, kept = [], []
    for init in g.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or init.name in inputs or int(np.prod(init.dims)) < min_size:
            kept.append(init)
            continue
        w = numpy_helper.to_array(init)
        if np.abs(w).max(initial=0) > 65000:  # would overflow float16: keep it
            kept.append(init)
            continue
        half = numpy_helper.from_array(w.astype(np.float16), init.name + '__fp16')
        kept.append(half)
        casts.append(helper.make_node('Cast', [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=init.name + '__to_fp32'))
    del g.initializer[:]
    g.initializer.extend(kept)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    return len(casts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('src')
    ap.add_argument('dst')
    ap.add_argument('--min-size', type=int, default=16, help='smaller initializers stay float32')
    a = ap.parse_args()
    m = onnx.load(a.src)
    n = fp16_weights(m, a.min_size)
    onnx.checker.check_model(m)
    onnx.save(m, a.dst)
    print(f'{a.dst}: {n} initializers stored as float16')


if __name__ == '__main__':
    main()
