"""RoI pooling backward oracle for tests/kernels_grad.test.ts (run with /usr/bin/python3: torch 1.13, torchvision 0.14).

  roi_grad.py DIR   reads DIR/cases.json and the .npy inputs it names, runs torchvision's forward with
                    torch autograd on, back-propagates the given output gradient, and writes
                    d(sum(out * dy))/dx as DIR/dx_<name>.npy (NHWC, like the TypeScript ops; one file
                    per level for multi-scale cases: DIR/dx_<name>_<level>.npy)

cases.json: {"cases": [...]}, each case one of
  {"name", "op": "roi_align", "x": "x.npy" (NHWC [N,H,W,C]), "rois": "rois.npy" ([K,5]),
   "dy": "dy.npy" (NHWC [K,PH,PW,C]), "output_size": [h, w], "spatial_scale", "sampling_ratio", "aligned"}
  {"name", "op": "roi_pool", "x", "rois", "dy", "output_size", "spatial_scale"}
  {"name", "op": "multi_scale_roi_align", "levels": ["p0.npy", ...] (NHWC [1,Hl,Wl,C]),
   "boxes": "boxes.npy" ([K,4]), "dy", "image_size": [h, w], "output_size", "sampling_ratio"}
    → torchvision.ops.MultiScaleRoIAlign; also writes DIR/levels_<name>.npy (int64, its LevelMapper)
      and DIR/scales_<name>.npy (float32, its inferred scales)
  {"name", "op": "multi_scale_roi_pool", "levels", "boxes", "dy", "box_levels": "lv.npy" ([K] int),
   "scales": [...], "output_size"}
    → torchvision has no multi-scale RoIPool: torchvision.ops.roi_pool on each level's boxes, results
      put back in box order the way MultiScaleRoIAlign does (torch indexing, autograd through it)
Only torchvision and torch autograd compute here; this script moves data between layouts.
"""
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align, roi_pool


def nchw_leaf(path):
    # NHWC file → NCHW tensor that collects a gradient
    return torch.from_numpy(np.load(path)).permute(0, 3, 1, 2).contiguous().requires_grad_(True)


def nchw(path):
    return torch.from_numpy(np.load(path)).permute(0, 3, 1, 2).contiguous()


def save_nhwc(path, t):
    # NCHW tensor → NHWC file
    np.save(path, t.detach().permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32))


def main(d):
    with open(os.path.join(d, "cases.json")) as f:
        cases = json.load(f)["cases"]
    torch.set_num_threads(1)
    for c in cases:
        name, op = c["name"], c["op"]
        dy = nchw(os.path.join(d, c["dy"]))
        if op in ("roi_align", "roi_pool"):
            x = nchw_leaf(os.path.join(d, c["x"]))
            rois = torch.from_numpy(np.load(os.path.join(d, c["rois"])))
            if op == "roi_align":
                out = roi_align(x, rois, tuple(c["output_size"]), c["spatial_scale"], c["sampling_ratio"], c["aligned"])
            else:
                out = roi_pool(x, rois, tuple(c["output_size"]), c["spatial_scale"])
            out.backward(dy)
            save_nhwc(os.path.join(d, f"dx_{name}.npy"), x.grad)
        elif op == "multi_scale_roi_align":
            names = [str(i) for i in range(len(c["levels"]))]
            maps = [nchw_leaf(os.path.join(d, p)) for p in c["levels"]]
            feats = OrderedDict(zip(names, maps))
            boxes = torch.from_numpy(np.load(os.path.join(d, c["boxes"])))
            pooler = MultiScaleRoIAlign(names, tuple(c["output_size"]), c["sampling_ratio"])
            out = pooler(feats, [boxes], [tuple(c["image_size"])])
            out.backward(dy)
            for i, m in enumerate(maps):
                save_nhwc(os.path.join(d, f"dx_{name}_{i}.npy"), m.grad if m.grad is not None else torch.zeros_like(m))
            np.save(os.path.join(d, f"levels_{name}.npy"), pooler.map_levels([boxes]).numpy().astype(np.int64))
            np.save(os.path.join(d, f"scales_{name}.npy"), np.array(pooler.scales, dtype=np.float32))
        elif op == "multi_scale_roi_pool":
            maps = [nchw_leaf(os.path.join(d, p)) for p in c["levels"]]
            boxes = torch.from_numpy(np.load(os.path.join(d, c["boxes"])))
            box_levels = torch.from_numpy(np.load(os.path.join(d, c["box_levels"]))).long()
            rois = torch.cat([torch.zeros(boxes.shape[0], 1, dtype=boxes.dtype), boxes], dim=1)
            ph, pw = c["output_size"]
            out = torch.zeros(boxes.shape[0], maps[0].shape[1], ph, pw, dtype=maps[0].dtype)
            for level, (m, scale) in enumerate(zip(maps, c["scales"])):
                idx = torch.where(box_levels == level)[0]
                out[idx] = roi_pool(m, rois[idx], (ph, pw), scale)
            out.backward(dy)
            for i, m in enumerate(maps):
                save_nhwc(os.path.join(d, f"dx_{name}_{i}.npy"), m.grad if m.grad is not None else torch.zeros_like(m))
        else:
            raise SystemExit(f"roi_grad.py: unknown op {op!r} in case {name!r}")
    print(json.dumps({"torch": torch.__version__, "cases": len(cases)}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
