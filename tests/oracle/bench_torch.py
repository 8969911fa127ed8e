#!/usr/bin/env python3
"""Benchmark peer for `npm run bench`: torchvision Mask R-CNN (v1) forward times, per stage.

Run with /usr/bin/python3 (Debian's torch 1.13 + torchvision 0.14 + numpy + PIL).

  bench_torch.py image --photo FILE --out FILE.png [--height 480] [--width 640]
      Centre-crops the photo to the aspect ratio H:W, resizes it to H×W (PIL Lanczos) and saves
      an RGB PNG: the benchmark's input, identical bytes for every engine.

  bench_torch.py run --weights FILE --image FILE [--min-size 800] [--runs 3] [--threads 2]
                     [--stock-blas]
      Builds the model as tests/oracle/model.py does (same architecture, FrozenBN, state dict),
      `model.eval()`, `torch.no_grad()`, `torch.set_num_threads(threads)`, then runs
      `model([image])` `runs` times. Prints JSON lines on stdout:
        {"event": "first"}  right after the first forward returns (the parent times process
                            start → first result from it),
        {"event": "done", ...} with load time, per-run forward and per-stage seconds, and the
                            first run's detections (original-image boxes, labels, scores).

Stages (forward hooks and method wrappers, no change to the computation):
  transform    model.transform (normalize, resize, pad)
  backbone     model.backbone.body (ResNet C2–C5)
  fpn          model.backbone.fpn (P2–P6)
  rpn          model.rpn (head, anchors, decode, NMS)
  box          roi_heads box_roi_pool + box_head + box_predictor + postprocess_detections
  mask         roi_heads mask_roi_pool + mask_head + mask_predictor + maskrcnn_inference
  postprocess  model.transform.postprocess (boxes to the original image, paste_masks_in_image)
  other        forward − the above (roi_heads glue, list handling)

CPU kernels: Debian's torch runs nn.Linear on the netlib reference BLAS (BLAS_INFO=generic; fc6
alone ≈ 15 s), which no pip/conda build of torch does. By default this script therefore uses
model.py's `use_fast_cpu_kernels` (nn.Linear and the 2×2 stride-2 ConvTranspose2d through
oneDNN, as an MKL build would); `--stock-blas` keeps Debian's kernels. Convolutions are oneDNN
either way.
"""
import argparse
import collections
import json
import os
import sys
import time

T_START = time.perf_counter()

import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.models.detection import roi_heads as roi_heads_module  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model as oracle  # noqa: E402  (tests/oracle/model.py: build_model, load_state_dict, read_image)

STAGES = ('transform', 'backbone', 'fpn', 'rpn', 'box', 'mask', 'postprocess')


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


class StageClock:
    """Accumulates wall time per benchmark stage over one forward (hooks; no numerical change)."""

    def __init__(self, model):
        self.seconds = collections.defaultdict(float)
        self._start = {}
        rh = model.roi_heads
        modules = {
            'transform': [model.transform], 'backbone': [model.backbone.body], 'fpn': [model.backbone.fpn],
            'rpn': [model.rpn], 'box': [rh.box_roi_pool, rh.box_head, rh.box_predictor],
            'mask': [rh.mask_roi_pool, rh.mask_head, rh.mask_predictor],
        }
        for stage, mods in modules.items():
            for m in mods:
                m.register_forward_pre_hook(self._pre(m))
                m.register_forward_hook(self._post(m, stage))
        rh.postprocess_detections = self._wrap(rh.postprocess_detections, 'box')
        model.transform.postprocess = self._wrap(model.transform.postprocess, 'postprocess')
        # RoIHeads.forward calls the module-level function by name.
        roi_heads_module.maskrcnn_inference = self._wrap(roi_heads_module.maskrcnn_inference, 'mask')

    def _pre(self, m):
        def hook(module, inp):
            self._start[id(m)] = time.perf_counter()
        return hook

    def _post(self, m, stage):
        def hook(module, inp, out):
            self.seconds[stage] += time.perf_counter() - self._start.pop(id(m))
        return hook

    def _wrap(self, fn, stage):
        def wrapped(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - t0
        return wrapped

    def take(self):
        out = {s: self.seconds.get(s, 0.0) for s in STAGES}
        self.seconds.clear()
        return out


def cmd_image(args):
    im = Image.open(args.photo).convert('RGB')
    w, h = im.size
    target = args.width / args.height
    if w / h > target:  # too wide: crop the sides
        cw, ch = round(h * target), h
    else:
        cw, ch = w, round(w / target)
    left, top = (w - cw) // 2, (h - ch) // 2
    im = im.crop((left, top, left + cw, top + ch)).resize((args.width, args.height), Image.LANCZOS)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    im.save(args.out, format='PNG')
    emit({'event': 'done', 'out': args.out, 'source': args.photo, 'source_size': [h, w],
          'crop': [top, left, ch, cw], 'size': [args.height, args.width]})


@torch.no_grad()
def cmd_run(args):
    torch.set_num_threads(args.threads)
    kernels = 'stock (Debian reference BLAS for nn.Linear)'
    if not args.stock_blas:
        os.environ.pop('ORACLE_TORCH_BLAS', None)
        oracle.use_fast_cpu_kernels()
        kernels = 'oneDNN for nn.Linear and the mask deconv (model.py use_fast_cpu_kernels)'
    t0 = time.perf_counter()
    sd = oracle.load_state_dict(args.weights)
    depth, num_classes = oracle.infer_architecture(sd)
    model = oracle.build_model(depth, num_classes, min_size=args.min_size)
    model.load_state_dict(sd)
    model.eval()
    image = oracle.read_image(args.image)
    clock = StageClock(model)
    t1 = time.perf_counter()
    runs, first = [], None
    for i in range(args.runs):
        t = time.perf_counter()
        result = model([image])[0]
        forward = time.perf_counter() - t
        stages = clock.take()
        stages['other'] = max(0.0, forward - sum(stages.values()))
        runs.append({'forward': forward, 'stages': stages})
        if i == 0:
            emit({'event': 'first'})
            first = result
    emit({
        'event': 'done', 'torch': torch.__version__, 'torchvision': torchvision.__version__,
        'threads': torch.get_num_threads(), 'kernels': kernels, 'min_size': args.min_size,
        'import_s': t0 - T_START, 'load_s': t1 - t0, 'runs': runs,
        'detections': {
            'boxes': first['boxes'].flatten().tolist(), 'labels': first['labels'].tolist(),
            'scores': first['scores'].tolist(),
        },
    })


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    i = sub.add_parser('image', help='make the benchmark image (centre crop + Lanczos resize, PNG)')
    i.add_argument('--photo', required=True)
    i.add_argument('--out', required=True)
    i.add_argument('--height', type=int, default=480)
    i.add_argument('--width', type=int, default=640)
    r = sub.add_parser('run', help='time model([image]) per stage')
    r.add_argument('--weights', required=True)
    r.add_argument('--image', required=True)
    r.add_argument('--min-size', type=int, default=800)
    r.add_argument('--runs', type=int, default=3)
    r.add_argument('--threads', type=int, default=2)
    r.add_argument('--stock-blas', action='store_true')
    args = p.parse_args(argv)
    if args.cmd == 'run' and args.runs < 1:
        oracle.fail(f'--runs {args.runs}: expected at least 1')
    (cmd_image if args.cmd == 'image' else cmd_run)(args)


if __name__ == '__main__':
    main()
