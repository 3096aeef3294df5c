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
    def roundtrip(self, arch_in_metadata=False, **arch):
        torch.manual_seed(0)
        net = PointDenoiser(3, width=32, depth=4, heads=4, **arch)
        with torch.no_grad():  # the zero-initialised output layers would hide a wrong load
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'm.onnx')
            export(net, path)
            if arch_in_metadata:
                SW.write_arch(path, dict(width=32, depth=4, heads=4, **arch))
                self.assertEqual(SW.read_arch(path)['geo_ks'], list(arch['geo_ks']))
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

    def test_geometric_features_and_mean_pooling(self):
        # geo_ks cannot be read from the weights: the architecture comes from the file's metadata
        self.roundtrip(geo_ks=(4, 8), local_every=2, local_pool='maxmean', k=6, arch_in_metadata=True)


class GeoFeatures(unittest.TestCase):
    def test_against_numpy(self):
        from model import geo_features, gather_neighbours, knn
        rng = np.random.default_rng(1)
        xyz = rng.normal(size=(2, 40, 3))
        xt = torch.from_numpy(xyz).float()
        idx = knn(xt, 10)
        got = geo_features(xt, gather_neighbours(xt, idx), (3, 10)).numpy()
        self.assertEqual(got.shape, (2, 40, 18))
        for b in range(2):
            for i in range(40):
                d = ((xyz[b] - xyz[b, i]) ** 2).sum(1)
                order = np.argsort(d)
                for j, k in enumerate((3, 10)):
                    r = xyz[b, order[:k]] - xyz[b, i]
                    cov = np.cov(r.T, bias=True)
                    want = np.concatenate([r.mean(0) * 10, np.array([cov[0, 0], cov[1, 1], cov[2, 2], cov[0, 1], cov[0, 2], cov[1, 2]]) * 30])
                    np.testing.assert_allclose(got[b, i, 9 * j:9 * j + 9], want, atol=1e-4)

    def test_new_layers_start_as_the_model_they_extend(self):
        # train_shapes.py --init-onnx loads a smaller model into one with geo features and mean pooling:
        # the new layers are zero-initialised, so the extended model starts out computing the same function
        torch.manual_seed(0)
        base = PointDenoiser(3, width=32, depth=2, heads=4)
        with torch.no_grad():
            for p in base.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        big = PointDenoiser(3, width=32, depth=2, heads=4, geo_ks=(4, 8), local_every=1, local_pool='maxmean', k=6)
        missing, unexpected = big.load_state_dict(base.state_dict(), strict=False)
        self.assertEqual(unexpected, [])
        self.assertTrue(all(k.startswith(('geo.', 'locals.')) for k in missing), missing)
        x, t, y = torch.randn(2, 6, 30), torch.tensor([3.0, 500.0]), torch.tensor([0, 3])
        with torch.no_grad():
            self.assertTrue(torch.allclose(big(x, t, y), base(x, t, y), atol=1e-6))


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
            self.assertEqual(sorted(results[0][key])[:5], ['cov', 'mmd', 'nna', 'nna_gen', 'nna_ref'])
        self.assertIn('spacing_ratio', results[0]['mean'])


class Metrics(unittest.TestCase):
    def test_one_nna_halves(self):
        # generated clouds far from everything, each other included; held-out clouds close to each other:
        # 1-NNA is 50 %, which looks perfect, but its generated side is 0 % and its held-out side 100 %
        n = 5
        d_gr = torch.full((n, n), 1.0, dtype=torch.float64)
        d_gg = torch.full((n, n), 5.0, dtype=torch.float64)
        d_rr = torch.full((n, n), 0.1, dtype=torch.float64)
        m = SM.pointflow_metrics(d_gr, d_gg, d_rr)
        self.assertEqual((m['nna'], m['nna_gen'], m['nna_ref']), (0.5, 0.0, 1.0))
        # a generated set that is an exact copy of the held-out one: every cloud's nearest other cloud is its copy
        # in the other set, so both sides are 0 % (memorising the held-out clouds would score better than 50 %)
        d = torch.rand(n, n, dtype=torch.float64) + 1
        d = d + d.T
        d.fill_diagonal_(0)
        m = SM.pointflow_metrics(d, d, d)
        self.assertEqual((m['nna'], m['nna_gen'], m['nna_ref']), (0.0, 0.0, 0.0))

    def test_chamfer_in_blocks(self):
        # the CPU path (one pair at a time) gives the matrix of the GPU path (all columns at once), and both the
        # closed form for two single points: |x - y|^2 counted from each side
        torch.manual_seed(0)
        a, b = torch.randn(5, 40, 3), torch.randn(3, 30, 3)
        self.assertTrue(torch.allclose(SM.chamfer_matrix(a, b, rows=1, cols=1), SM.chamfer_matrix(a, b), atol=1e-6))
        p, q = torch.tensor([[[0.0, 0.0, 0.0]]]), torch.tensor([[[1.0, 2.0, 2.0]]])
        self.assertAlmostEqual(SM.chamfer_matrix(p, q, rows=1, cols=1).item(), 18.0, places=5)

    def test_point_spacing_closed_form(self):
        # N points evenly on a circle of radius R: the 8th nearest other point is the 4th along either way,
        # at chord length 2 R sin(4 pi / N), for every point
        N, R = 400, 0.7
        a = torch.arange(N, dtype=torch.float64) * 2 * np.pi / N
        circle = torch.stack([R * torch.cos(a), torch.zeros(N, dtype=torch.float64), R * torch.sin(a)], -1)
        got = SM.point_spacing(circle[None].double()).item()
        self.assertAlmostEqual(got, 2 * R * np.sin(4 * np.pi / N), places=5)
        # clumping (the points gathered in 25 tight groups of 16 along the circle) makes it smaller, fuzz (noise) larger
        c = torch.arange(N) // 16 * (2 * np.pi / 25) + torch.arange(N) % 16 * 1e-3
        clumped = torch.stack([R * torch.cos(c), torch.zeros(N), R * torch.sin(c)], -1)[None].double()
        fuzzy = circle[None] + torch.randn(1, N, 3, dtype=torch.float64) * 0.2
        self.assertLess(SM.point_spacing(clumped).item(), got)
        self.assertGreater(SM.point_spacing(fuzzy).item(), got)


class InspectClouds(unittest.TestCase):
    def test_reads_the_sdk_ply_layout(self):
        import inspect_clouds as IC
        rng = np.random.default_rng(0)
        xyz = rng.normal(size=(5, 3)).astype('<f4')
        rgb = rng.integers(0, 256, size=(5, 3)).astype('u1')
        rec = np.zeros(5, dtype=[('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('red', 'u1'), ('green', 'u1'), ('blue', 'u1')])
        rec['x'], rec['y'], rec['z'] = xyz.T
        rec['red'], rec['green'], rec['blue'] = rgb.T
        head = ('ply\nformat binary_little_endian 1.0\ncomment made by diffusekit\nelement vertex 5\nproperty float x\n'
                'property float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n')
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, 'cube'))
            with open(os.path.join(d, 'cube', 'a.ply'), 'wb') as f:
                f.write(head.encode('ascii') + rec.tobytes())
            np.testing.assert_array_equal(IC.read_ply_xyz(os.path.join(d, 'cube', 'a.ply')), xyz)
            self.assertEqual(IC.load_clouds(d, 'cube').shape, (1, 5, 3))
            # a sweep's samples: [classes * per, 6, N], the classes in order
            clouds = rng.normal(size=(len(S.CLASSES) * 2, 6, 7)).astype(np.float32)
            np.savez(os.path.join(d, 's.npz'), clouds=clouds)
            got = IC.load_clouds(os.path.join(d, 's.npz'), 'cube')
            np.testing.assert_array_equal(got, clouds[2:4, :3].transpose(0, 2, 1))
            # what it cannot read, it says so (an ascii PLY; a class folder without clouds)
            with open(os.path.join(d, 'cube', 'b.ply'), 'wb') as f:
                f.write(b'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n0\n')
            with self.assertRaisesRegex(ValueError, 'binary little-endian'):
                IC.read_ply_xyz(os.path.join(d, 'cube', 'b.ply'))
            with self.assertRaisesRegex(SystemExit, 'no PLY files'):
                IC.load_clouds(d, 'sphere')


class DenoiseProbe(unittest.TestCase):
    def test_torch_free_sigma_mapping_matches_the_sampler(self):
        # denoise_probe.py runs where ONNX Runtime is and torch is not, so it keeps a numpy copy of the schedule
        # and of diffusers' sigma -> timestep mapping: it must agree with sampling.py's
        import denoise_probe as DP
        ls = DP.log_sigmas()
        ac = SM.schedule()
        np.testing.assert_allclose(ls, np.log(((1 - ac) / ac).sqrt().numpy()), rtol=1e-12)
        for s in (0.0101, 0.03, 0.1, 0.3, 1.0, 5.0, 150.0):
            self.assertAlmostEqual(DP.sigma_to_t(s, ls), SM.sigma_to_t(s, ls), places=9)


class NormaliseClouds(unittest.TestCase):
    def test_matches_the_data_generator(self):
        rng = np.random.default_rng(3)
        x = rng.normal(0.3, 0.5, size=(4, 100, 3)) * np.array([1.0, 2.0, 0.5])
        want = np.stack([S.normalise(c) for c in x])
        got = SM.normalise_clouds(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-12)
        self.assertTrue(np.allclose(np.linalg.norm(got, axis=2).max(1), 1.0))


class TwoStage(unittest.TestCase):
    def test_decoder_points_are_independent_given_the_latent(self):
        # the point decoder must not let points see each other: that is what keeps them from clumping and lets
        # the SDK draw any number of them
        import latent as L
        torch.manual_seed(0)
        dec = L.PointDecoder(width=32, depth=2, latent_scale=1.3).eval()
        for p in dec.parameters():  # the zero-initialised output layers would hide any coupling
            with torch.no_grad():
                p.add_(torch.randn_like(p) * 0.1)
        x = torch.randn(2, 6, 50)
        z = torch.randn(2, 16, 16)
        t = torch.tensor([10.0, 700.0])
        with torch.no_grad():
            a = dec(x, t, z)
            y = x.clone()
            y[:, :, 7:] += torch.randn_like(y[:, :, 7:])
            b = dec(y, t, z)
            few = dec(x[:, :, :7], t, z)
            other = dec(x, t, z.flip(0))
        np.testing.assert_allclose(b[:, :, :7].numpy(), a[:, :, :7].numpy(), atol=1e-5)
        np.testing.assert_allclose(few.numpy(), a[:, :, :7].numpy(), atol=1e-5)
        self.assertGreater(float((other - a).abs().max()), 1e-3, 'the latent matters')

    def test_refine_reads_the_output_as_the_sampler_does(self):
        # a network whose v-prediction makes the clean estimate the projection onto the plane z = 0: one refinement
        # step lands every point on it, with the sampler's own x0 formula (heun_karras.denoise)
        sigma = 0.05
        c = (sigma * sigma + 1) ** 0.5

        def eps(x_in, t):
            x = x_in * c
            proj = x.clone()
            proj[:, 2] = 0
            return (x / (c * c) - proj) * c / sigma

        x = torch.randn(3, 6, 40, dtype=torch.float64)
        out = SM.refine(eps, x, sigma, 2)
        np.testing.assert_allclose(out[:, 2].numpy(), 0, atol=1e-12)
        np.testing.assert_allclose(out[:, :2].numpy(), x[:, :2].numpy(), atol=1e-12)

    def test_eval_settings(self):
        import train_latent as TL
        st = TL.parse_eval_setting('heun:25:1.5:0/ddim:10:1+r0.05x3+fp32')
        self.assertEqual(st['prior'], ('heun', 25, 1.5, None, 0.0))
        self.assertEqual(st['decoder'], ('ddim', 10, 1.0, None, 0.0))
        self.assertEqual(st['refine'], (0.05, 3, False))
        self.assertTrue(st['fp32'])
        self.assertEqual(TL.parse_eval_setting('heun:25:1:5+n0.1x2')['refine'], (0.1, 2, True))
        self.assertIsNone(TL.parse_eval_setting('heun:25:1:5')['prior'])
        st = TL.parse_eval_setting('train/heun:25:1:5:15+z0.1')  # training latents, churn 15, latent noise 0.1
        self.assertEqual((st['prior'], st['decoder'], st['znoise']), ('train', ('heun', 25, 1.0, 5.0, 15.0), 0.1))
        with self.assertRaisesRegex(ValueError, 'unknown setting modifier'):
            TL.parse_eval_setting('heun:25:1:5+q1')

    def test_split_seed(self):
        import train_latent as TL
        self.assertEqual(TL.split_seed('heun:25:1.25:0/heun:25:1:5@7'), ('heun:25:1.25:0/heun:25:1:5', 7))
        self.assertEqual(TL.split_seed('trainlat'), ('trainlat', 1234))
        with self.assertRaises(ValueError):
            TL.split_seed('heun:25:1:5@x')

    def test_divergence_guard(self):
        import train_latent as TL
        m = torch.nn.Linear(2, 1)
        g = TL.DivergenceGuard(limit=1.15, keep=1.02, patience=2)
        for loss, w in ((0.30, 1.0), (0.27, 2.0), (0.265, 3.0), (0.28, 4.0)):  # 0.28 < 1.15 * 0.265: go on, no copy
            with torch.no_grad():
                m.weight.fill_(w)
            self.assertTrue(g.check(loss, m))
        with torch.no_grad():
            m.weight.fill_(9.0)
        self.assertFalse(g.check(0.35, m))  # diverged
        g.restore(m)
        self.assertTrue(torch.all(m.weight == 3.0))  # the copy of the best log's weights
        self.assertFalse(TL.DivergenceGuard().check(float('nan'), m))


class Fp16Weights(unittest.TestCase):
    def test_weights_become_float16_with_casts(self):
        import onnx
        from onnx import numpy_helper
        import fp16_weights as FW
        m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.SiLU(), torch.nn.Linear(16, 2))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'm.onnx')
            torch.onnx.export(m, (torch.randn(1, 8),), path, input_names=['x'], output_names=['y'], opset_version=17)
            model = onnx.load(path)
            before = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
            n = FW.fp16_weights(model, min_size=16)
            onnx.checker.check_model(model)
        after = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        big = [k for k, v in before.items() if v.size >= 16]
        self.assertEqual(n, len(big))
        self.assertEqual([k for k, v in before.items() if v.size < 16], [k for k, v in after.items() if v.dtype == np.float32])
        for k in big:
            np.testing.assert_array_equal(after[k + '__fp16'], before[k].astype(np.float16))
        casts = [nd for nd in model.graph.node if nd.op_type == 'Cast']
        self.assertEqual(sorted(nd.output[0] for nd in casts), sorted(big))  # the graph reads the old names
        self.assertEqual(list(model.graph.node[:n]), casts)  # ahead of every use


if __name__ == '__main__':
    unittest.main()
