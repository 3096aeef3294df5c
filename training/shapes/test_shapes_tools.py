"""Checks of the shapes training tools (needs torch and onnx; not part of the Node suite):
  python3 -m unittest training/shapes/test_shapes_tools.py
"""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sampling as SM  # noqa: E402
import shapes_data as S  # noqa: E402
import sweep as SW  # noqa: E402
from model import PointDenoiser  # noqa: E402


def export(net, path):
    for m in net.modules():
        if hasattr(m, 'use_sdpa'):
            m.use_sdpa = False
    ex = (torch.randn(1, 6, 64), torch.tensor([10.0]), torch.tensor([0]))
    torch.onnx.export(net.eval(), ex, path, input_names=['sample', 'timestep', 'class_labels'], output_names=['out_sample'],
                      opset_version=17, dynamic_axes={'sample': {0: 'b', 2: 'n'}, 'timestep': {0: 'b'}, 'class_labels': {0: 'b'}})


class LoadOnnxModel(unittest.TestCase):
    def roundtrip(self, **arch):
        torch.manual_seed(0)
        net = PointDenoiser(3, width=32, depth=4, heads=4, **arch)
        with torch.no_grad():  # the zero-initialised output layers would hide a wrong load
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'm.onnx')
            export(net, path)
            torch.set_grad_enabled(True)
            got = SW.load_onnx_model(path)
            # a caller that goes on to train (train_shapes.py --init-onnx) needs gradients on
            self.assertTrue(torch.is_grad_enabled())
        want = net.state_dict()
        self.assertEqual(sorted(got.state_dict()), sorted(want))
        for k, v in got.state_dict().items():
            self.assertTrue(torch.equal(v, want[k]), k)
        x = torch.randn(2, 6, 50)
        t = torch.tensor([3.0, 700.0])
        y = torch.tensor([1, 3])
        with torch.no_grad():
            self.assertTrue(torch.allclose(got(x, t, y), net(x, t, y), atol=1e-6))

    def test_shipped_architecture(self):
        self.roundtrip()

    def test_point_attention_every_other_block(self):
        self.roundtrip(point_attn_every=2)

    def test_wide_latents(self):
        self.roundtrip(latents=16, latent_layers=2)


class RunSweep(unittest.TestCase):
    def test_fewer_than_four_clouds_a_class(self):
        # the sample picker took the first 4 clouds of each class and failed for smaller sets
        torch.manual_seed(0)
        ref = torch.rand(2, 3, S.NUM_POINTS, 3)
        results, samples = SW.run_sweep(lambda x, t, y: torch.zeros_like(x), [SW.parse_setting('heun:2:1:5')], ref,
                                        'v_prediction', 'cpu', 60, lambda *a: None, normalised=True)
        self.assertEqual(samples['clouds'].shape, (6, 6, S.NUM_POINTS))
        for key in ('mean', 'mean_normalised'):
            self.assertTrue(0 <= results[0][key]['nna'] <= 1)
            self.assertEqual(sorted(results[0][key]), ['cov', 'mmd', 'nna'])


class NormaliseClouds(unittest.TestCase):
    def test_matches_the_data_generator(self):
        rng = np.random.default_rng(3)
        x = rng.normal(0.3, 0.5, size=(4, 100, 3)) * np.array([1.0, 2.0, 0.5])
        want = np.stack([S.normalise(c) for c in x])
        got = SM.normalise_clouds(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-12)
        self.assertTrue(np.allclose(np.linalg.norm(got, axis=2).max(1), 1.0))


if __name__ == '__main__':
    unittest.main()
