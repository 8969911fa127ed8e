#!/usr/bin/env python3
"""End-to-end torchvision oracle for Mask R-CNN (v1): builds parity weights, dumps every stage.

Run with /usr/bin/python3 (Debian's torch 1.13 + torchvision 0.14 + numpy + PIL).

  model.py build --out DIR [--seed 0] [--depth 50] [--num-classes 91] [--keypoints K [--no-masks]]
                 [--formats zip,legacy,safetensors] [--calib-image FILE] [--calib-min-size 320]
                 [--target-detections 40]
      Random torchvision Mask R-CNN whose weights are calibrated on a photo so that every stage
      carries signal (see `calibrate`). Writes DIR/model.pth (zip), DIR/model_legacy.pth (legacy
      pickle), DIR/model.safetensors, as requested, and DIR/build.json (what was calibrated).
      --keypoints K adds torchvision's keypoint branch (KeypointRCNNHeads 8 × 512 +
      KeypointRCNNPredictor to K maps) to the Mask R-CNN; with --no-masks the model is
      `KeypointRCNN` itself (keypointrcnn_resnet50_fpn's layout for depth 50, num-classes 2, K 17).

  model.py run --weights FILE --image FILE --out DIR [--config-json JSON]
      Loads a state dict (.pth zip or legacy, .safetensors), runs `model([image])` in eval mode and
      writes the stage trace (DESIGN.md §4) as .npy, CHW, float32 (labels int64), plus
      DIR/image.npy (3×H0×W0 float32 in [0,1], the exact tensor given to the model) and
      DIR/meta.json. --config-json holds torchvision MaskRCNN keyword args (min_size, max_size,
      rpn_*, box_*, ...) and optionally "depth", "num_classes" (else inferred from the state dict)
      and "frozen_bn_eps" (FrozenBatchNorm2d eps; torchvision sets 0.0 for the published COCO_V1
      weights, 1e-5 otherwise). --image may also be a .npy (3×H×W float in [0,1], or H×W×3 uint8).
      A state dict with a keypoint branch also writes keypoint_logits (D×K×56×56), keypoints
      (D×K×3, original image) and keypoints_scores (D×K); one without a mask branch writes no
      mask_logits / masks.

Glossary: FrozenBN = FrozenBatchNorm2d, y = (x − running_mean)·weight/√(running_var + eps) + bias.
K = num_classes including background. A = anchors per location (3). N = proposals, D = detections.
"""
import argparse
import collections
import inspect
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn
from torchvision.models.detection import KeypointRCNN, MaskRCNN
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.roi_heads import keypointrcnn_inference, maskrcnn_inference
from torchvision.ops import MultiScaleRoIAlign
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops.misc import FrozenBatchNorm2d

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CALIB_IMAGE = os.path.join(HERE, '..', 'fixtures', 'photos', 'chelsea.jpg')

# Calibration targets (std of each layer's pre-activation output on the calibration image).
RPN_OBJECTNESS_STD = 2.0  # logits spread of several units: top-k / NMS not decided by float noise
RPN_OBJECTNESS_MEAN = -2.5  # keeps the top ~1000 at logits ≈ 0–5, where float32 sigmoid is not saturated
RPN_DELTAS_STD = 0.3  # dx, dy, dw, dh: proposals move ~0.3 anchor sizes
CLASS_LOGITS_STD = 2.0  # foreground logits; the background logit is shifted to hit TARGET_DETECTIONS
BOX_DELTAS_STD = 1.0  # divided by the coder weights (10, 10, 5, 5) → ~0.1–0.2 box sizes
MASK_LOGITS_STD = 3.0  # centred per class: both sides of 0
KEYPOINT_LOGITS_STD = 3.0  # per keypoint map: a clear argmax that float32 noise cannot move
TARGET_DETECTIONS = 40
FAST_KERNELS = False  # set by main(): see use_fast_cpu_kernels
EXTRA_CONFIG_KEYS = ('depth', 'num_classes', 'frozen_bn_eps')
RESNET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def fail(message):
    print(f'model.py: {message}', file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# Architecture


def build_model(depth, num_classes, keypoints=None, masks=True, **kwargs):
    """torchvision MaskRCNN on a ResNet-`depth` FPN backbone with FrozenBatchNorm2d.

    For depth 50 this is `maskrcnn_resnet50_fpn` as built when backbone weights are given (the
    published COCO checkpoint's layout: FrozenBN, no `num_batches_tracked`); with
    `weights_backbone=None` torchvision would use nn.BatchNorm2d, whose eval forward is the same
    but whose state dict carries `num_batches_tracked` buffers. `keypoints=K` adds the keypoint
    branch; `masks=False` with it builds `KeypointRCNN` (keypointrcnn_resnet50_fpn's layout).
    """
    if depth not in RESNET_BLOCKS:
        fail(f'--depth {depth} is not a torchvision ResNet depth: use one of {sorted(RESNET_BLOCKS)}')
    backbone = resnet_fpn_backbone(backbone_name=f'resnet{depth}', weights=None, trainable_layers=3)
    if not masks:
        if not keypoints:
            fail('a model without masks needs --keypoints K (this oracle builds Mask R-CNN and Keypoint R-CNN)')
        return KeypointRCNN(backbone, num_classes=num_classes, num_keypoints=keypoints, **kwargs)
    model = MaskRCNN(backbone, num_classes=num_classes, **kwargs)
    if keypoints:
        # The paper's variant with both branches: RoIHeads runs every head it has.
        model.roi_heads.keypoint_roi_pool = MultiScaleRoIAlign(featmap_names=['0', '1', '2', '3'], output_size=14, sampling_ratio=2)
        model.roi_heads.keypoint_head = KeypointRCNNHeads(backbone.out_channels, tuple(512 for _ in range(8)))
        model.roi_heads.keypoint_predictor = KeypointRCNNPredictor(512, keypoints)
    return model


def maskrcnn_keywords():
    """Keyword args MaskRCNN / KeypointRCNN accept (their own, FasterRCNN's, GeneralizedRCNNTransform's)."""
    from torchvision.models.detection.faster_rcnn import FasterRCNN
    from torchvision.models.detection.transform import GeneralizedRCNNTransform
    names = set()
    for cls in (MaskRCNN, KeypointRCNN, FasterRCNN, GeneralizedRCNNTransform):
        names |= {n for n, p in inspect.signature(cls.__init__).parameters.items() if p.kind == p.POSITIONAL_OR_KEYWORD}
    return names - {'self', 'backbone', 'num_classes', 'num_keypoints'}


def infer_branches(state_dict):
    """(keypoints K or None, masks) from the state dict's key names and shapes."""
    kp = state_dict.get('roi_heads.keypoint_predictor.kps_score_lowres.weight')
    masks = any(k.startswith('roi_heads.mask_predictor.') for k in state_dict)
    return (int(kp.shape[1]) if kp is not None else None), masks


def infer_architecture(state_dict):
    """(depth, num_classes) from the state dict's key names and shapes."""
    key = 'roi_heads.box_predictor.cls_score.weight'
    if key not in state_dict:
        fail(f'state dict has no {key}: expected a torchvision Mask R-CNN state dict '
             f'(found keys like {list(state_dict)[:3]})')
    num_classes = int(state_dict[key].shape[0])
    blocks = []
    for layer in range(1, 5):
        prefix = f'backbone.body.layer{layer}.'
        indices = {int(k[len(prefix):].split('.')[0]) for k in state_dict if k.startswith(prefix)}
        blocks.append(len(indices))
    bottleneck = any(k.startswith('backbone.body.layer1.0.conv3.') for k in state_dict)
    for depth, counts in RESNET_BLOCKS.items():
        if tuple(blocks) == counts and bottleneck == (depth >= 50):
            return depth, num_classes
    fail(f'cannot infer the ResNet depth: blocks per stage {blocks}, bottleneck={bottleneck}; '
         f'pass "depth" in --config-json')


# ---------------------------------------------------------------------------------------------
# CPU kernels. Debian's torch is built with BLAS_INFO=generic: nn.Linear runs on the netlib
# reference BLAS (fc6, 1000×12544 @ 12544×1024, takes ~15 s on 2 cores) and so does the mask
# head's 2×2 stride-2 ConvTranspose2d. The oracle runs both through oneDNN's inner product
# (the same float32 dot products, another summation order; closer to float64 than the reference
# BLAS). Set ORACLE_TORCH_BLAS=1 to keep torch's own kernels.


def fast_linear(x, w, b=None):
    """x @ wᵀ + b through oneDNN (x: M×K, w: N×K)."""
    if x.dim() != 2 or x.shape[0] == 0 or x.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return F.linear(x, w, b)
    y = torch._C._nn.mkldnn_linear(x.contiguous().to_mkldnn(), w.contiguous().to_mkldnn(),
                                   None if b is None else b.contiguous().to_mkldnn())
    return y.to_dense()


def fast_conv_transpose2d(module, x, w, b):
    """ConvTranspose2d whose kernel equals its stride (no overlap): one dot product over the input
    channels per output pixel, i.e. a linear map C → O·kh·kw at every input pixel."""
    kh, kw = module.kernel_size
    plain = (module.stride == (kh, kw) and module.padding == (0, 0) and module.output_padding == (0, 0)
             and module.dilation == (1, 1) and module.groups == 1 and x.dim() == 4)
    if not plain:
        return F.conv_transpose2d(x, w, b, module.stride, module.padding, module.output_padding,
                                  module.groups, module.dilation)
    n, c, h, wd = x.shape
    o = w.shape[1]
    rows = x.permute(0, 2, 3, 1).reshape(n * h * wd, c)  # N·h·w × C
    wmat = w.permute(1, 2, 3, 0).reshape(o * kh * kw, c)  # O·kh·kw × C, row = (o, a, b)
    bias = None if b is None else b.repeat_interleave(kh * kw)
    y = fast_linear(rows, wmat, bias)  # N·h·w × O·kh·kw
    y = y.reshape(n, h, wd, o, kh, kw).permute(0, 3, 1, 4, 2, 5)  # N×O×h×kh×w×kw
    return y.reshape(n, o, h * kh, wd * kw).contiguous()


def use_fast_cpu_kernels():
    if os.environ.get('ORACLE_TORCH_BLAS') == '1':
        return False
    nn.Linear.forward = lambda self, x: fast_linear(x, self.weight, self.bias)

    def deconv_forward(self, x, output_size=None):
        if output_size is not None:
            return nn.ConvTranspose2d._torch_forward(self, x, output_size)
        return fast_conv_transpose2d(self, x, self.weight, self.bias)

    nn.ConvTranspose2d._torch_forward = nn.ConvTranspose2d.forward
    nn.ConvTranspose2d.forward = deconv_forward
    return True


# ---------------------------------------------------------------------------------------------
# Calibration: random weights that carry signal


def _linear_out(module, x):
    """The module's output without bias, with its current weight."""
    w = module.weight
    if isinstance(module, nn.Conv2d):
        return F.conv2d(x, w, None, module.stride, module.padding, module.dilation, module.groups)
    if isinstance(module, nn.ConvTranspose2d):
        return _deconv_nobias(module, x)
    if isinstance(module, nn.Linear):
        return fast_linear(x, w) if FAST_KERNELS else F.linear(x, w)
    raise TypeError(f'cannot calibrate {type(module).__name__}')


def _deconv_nobias(module, x):
    if FAST_KERNELS:
        return fast_conv_transpose2d(module, x, module.weight, None)
    return F.conv_transpose2d(x, module.weight, None, module.stride, module.padding, module.output_padding,
                              module.groups, module.dilation)


def _channel_dim(module):
    return 1 if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) else -1


def fit_layer(module, inputs, target_std, gen, bias_std=0.1, center=False, per_channel=False):
    """Scale `module.weight` so its output (over all `inputs`) has std `target_std`; draw the bias
    from N(0, bias_std²). With `center`, the per-channel mean is removed first (the std is then
    the spread within channels); with `per_channel`, every output channel gets that std."""
    outs = [_linear_out(module, x) for x in inputs]
    dim = _channel_dim(module)
    flat = torch.cat([o.movedim(dim, -1).reshape(-1, o.shape[dim]) for o in outs]).double()  # rows × channels
    mean = flat.mean(0)
    spread = flat - mean if center else flat
    std = spread.std(0) if per_channel else spread.std().expand_as(mean)  # per output channel
    if not bool((std > 0).all()):
        raise RuntimeError(f'calibration: {module} output has zero spread on the calibration image')
    scale = target_std / std
    out_dim = 1 if isinstance(module, nn.ConvTranspose2d) else 0
    module.weight.mul_(scale.float().view([-1 if d == out_dim else 1 for d in range(module.weight.dim())]))
    bias = torch.randn(mean.shape[0], generator=gen, dtype=torch.float64) * bias_std
    if center:
        bias -= mean * scale
    module.bias.copy_(bias.float())


def fit_once_hook(gen, target_std, **kw):
    """Forward pre-hook that calibrates a layer on its first input, then removes itself."""
    def hook(module, inp):
        fit_layer(module, [inp[0]], target_std, gen, **kw)
        module._fit_handle.remove()
        del module._fit_handle
    return hook


def add_fit_hook(module, gen, target_std, **kw):
    module._fit_handle = module.register_forward_pre_hook(fit_once_hook(gen, target_std, **kw))


def frozen_bn_hook(gen, residual_bns):
    """Forward pre-hook: FrozenBN statistics from its actual input, perturbed.

    running_var = batch var · e^U(−0.4, 0.4); running_mean = 0.3·σ·N(0, 1) around 0, not the batch
    mean: with the batch mean subtracted, the random net amplifies any change in image statistics
    (FPN std ×10–60 on another photo or on noise), with it left in, ×1.6–2.6. weight ∈ [0.6, 1.4],
    ×0.3 for the last BN of each residual branch (so blocks refine the identity path rather than
    compound), bias ~ N(0, 0.3²). Activations stay O(1) and every term matters."""
    def hook(module, inp):
        x = inp[0].double()
        var = x.var((0, 2, 3), unbiased=False)
        var = torch.maximum(var, 1e-2 * var.mean() + 1e-6)  # dead channels: no 1/√eps blow-up
        c = var.shape[0]
        rnd = lambda: torch.rand(c, generator=gen, dtype=torch.float64)  # noqa: E731
        module.running_mean.copy_(0.3 * var.sqrt() * torch.randn(c, generator=gen, dtype=torch.float64))
        module.running_var.copy_(var * torch.exp(0.8 * rnd() - 0.4))
        module.weight.copy_((0.3 if module in residual_bns else 1.0) * (0.6 + 0.8 * rnd()))
        module.bias.copy_(0.3 * torch.randn(c, generator=gen, dtype=torch.float64))
    return hook


def count_detections(roi_heads, class_logits, box_regression, proposals, image_sizes):
    boxes, _, _ = roi_heads.postprocess_detections(class_logits, box_regression, proposals, image_sizes)
    return int(boxes[0].shape[0])


def background_shift(roi_heads, class_logits, box_regression, proposals, image_sizes, target):
    """The shift b of the background logit that leaves about `target` detections, placed in the
    middle of the widest gap between candidates' score-threshold crossings, so that no
    (proposal, class) score sits within gap/2 (in logit units) of `box_score_thresh`.

    With softmax, score_ic > t  ⟺  b < β_ic = log(e^{l_ic}/t − Σ_{j≥1} e^{l_ij}) − l_i0.
    """
    t = roi_heads.score_thresh
    l = class_logits.double()
    fg = torch.logsumexp(l[:, 1:], 1, keepdim=True)  # N×1: log Σ_{j≥1} e^{l_ij}
    room = torch.exp(l[:, 1:] - fg) / t - 1  # N×(K−1): (e^{l_ic}/t − S_i) / S_i
    beta = torch.where(room > 0, fg + torch.log(room.clamp_min(1e-300)) - l[:, :1], torch.full_like(room, -1e9))
    beta = beta.flatten().sort(descending=True).values
    beta = beta[beta > -1e8]
    if beta.numel() < 2:
        raise RuntimeError(f'calibration: only {beta.numel()} (proposal, class) pairs can pass score > {t}')
    kmax = min(beta.numel() - 1, 5000)

    def count_at(k):  # b between the k-th and (k+1)-th crossing: k candidates before NMS
        b = float(0.5 * (beta[k - 1] + beta[k]))
        shifted = class_logits.clone()
        shifted[:, 0] += b
        return count_detections(roi_heads, shifted, box_regression, proposals, image_sizes)

    def first_k(at_least):  # smallest k with count_at(k) >= at_least (count grows with k)
        lo, hi = 1, kmax
        if count_at(hi) < at_least:
            return hi
        while lo < hi:
            mid = (lo + hi) // 2
            if count_at(mid) >= at_least:
                hi = mid
            else:
                lo = mid + 1
        return lo

    k_lo, k_hi = first_k(target // 2), first_k(2 * target + 1) - 1
    k_hi = max(k_lo, k_hi)
    gaps = beta[k_lo - 1:k_hi] - beta[k_lo:k_hi + 1]  # gap after the k-th crossing, k ∈ [k_lo, k_hi]
    for i in gaps.argsort(descending=True).tolist():
        k = k_lo + i
        if target // 2 <= count_at(k) <= 2 * target:
            break
    else:
        k = k_lo + int(gaps.argmax())
    b = 0.5 * (beta[k - 1] + beta[k])
    return float(b), float(beta[k - 1] - beta[k]) / 2


@torch.no_grad()
def calibrate(model, image, seed, min_size, target_detections=TARGET_DETECTIONS):
    """Make random weights meaningful for a parity test, by running the model's own stages
    (as GeneralizedRCNN.forward does) on `image` at `min_size` and refitting each layer on its
    actual input: FrozenBN from batch statistics (see frozen_bn_hook), convs / linears rescaled to
    a target output spread with random biases (head outputs centred per channel, so that they vary
    with the image rather than per channel), and the background class logit shifted so that about
    TARGET_DETECTIONS detections survive postprocessing. Deterministic given seed (and threads)."""
    gen = torch.Generator().manual_seed(seed + 1)
    clock = [time.perf_counter()]
    times = {}

    def lap(name):
        clock.append(time.perf_counter())
        times[name] = clock[-1] - clock[-2]

    model.eval()
    saved_min_size = model.transform.min_size
    model.transform.min_size = (min_size,)
    images, _ = model.transform([image])
    model.transform.min_size = saved_min_size
    sizes = images.image_sizes
    report = {'calib_image_size': list(sizes[0]), 'padded_size': list(images.tensors.shape[-2:])}

    # Backbone (FrozenBN from batch statistics) and FPN (every conv to unit output std).
    residual_bns = {b.bn3 if isinstance(b, Bottleneck) else b.bn2 for b in model.backbone.body.modules()
                    if isinstance(b, (Bottleneck, BasicBlock))}
    handles = [m.register_forward_pre_hook(frozen_bn_hook(gen, residual_bns))
               for m in model.backbone.body.modules() if isinstance(m, FrozenBatchNorm2d)]
    for m in model.backbone.fpn.modules():
        if isinstance(m, nn.Conv2d):
            add_fit_hook(m, gen, 1.0)
    features = model.backbone(images.tensors)
    for h in handles:
        h.remove()
    report['fpn_std'] = {k: round(float(v.std()), 4) for k, v in features.items()}
    lap('backbone')

    # RPN head: one conv shared by all levels, so fitted on all levels together.
    head = model.rpn.head
    conv = head.conv[0][0]
    feats = list(features.values())
    fit_layer(conv, feats, 1.0, gen)
    hidden = [F.relu(conv(x)) for x in feats]
    fit_layer(head.cls_logits, hidden, RPN_OBJECTNESS_STD, gen, bias_std=0.3, center=True)
    head.cls_logits.bias.add_(RPN_OBJECTNESS_MEAN)
    fit_layer(head.bbox_pred, hidden, RPN_DELTAS_STD, gen, bias_std=0.05, center=True)
    proposals, _ = model.rpn(images, features)
    lap('rpn')

    # Box head: fc6, fc7 to unit std; class logits and deltas to their targets.
    roi_heads = model.roi_heads
    add_fit_hook(roi_heads.box_head.fc6, gen, 1.0)
    add_fit_hook(roi_heads.box_head.fc7, gen, 1.0)
    add_fit_hook(roi_heads.box_predictor.cls_score, gen, CLASS_LOGITS_STD, bias_std=0.3, center=True,
                 per_channel=True)
    add_fit_hook(roi_heads.box_predictor.bbox_pred, gen, BOX_DELTAS_STD, bias_std=0.1, center=True)
    box_features = roi_heads.box_head(roi_heads.box_roi_pool(features, proposals, sizes))
    class_logits, box_regression = roi_heads.box_predictor(box_features)
    lap('box_head')

    shift, margin = background_shift(roi_heads, class_logits, box_regression, proposals, sizes, target_detections)
    shift = torch.tensor(shift, dtype=torch.float32)
    roi_heads.box_predictor.cls_score.bias[0] += shift
    class_logits[:, 0] += shift
    boxes, scores, labels = roi_heads.postprocess_detections(class_logits, box_regression, proposals, sizes)
    report.update({'background_logit_shift': float(shift), 'score_thresh_margin_logit': margin,
                   'calib_detections': int(boxes[0].shape[0]), 'calib_labels': int(labels[0].unique().numel())})
    if boxes[0].shape[0] == 0:
        raise RuntimeError('calibration: no detections on the calibration image; cannot fit the mask head')
    lap('background_shift')

    # Mask head: 4 convs and the deconv to unit std, logits centred per class.
    if roi_heads.has_mask():
        for m in roi_heads.mask_head.modules():
            if isinstance(m, nn.Conv2d):
                add_fit_hook(m, gen, 1.0)
        add_fit_hook(roi_heads.mask_predictor.conv5_mask, gen, 1.0)
        add_fit_hook(roi_heads.mask_predictor.mask_fcn_logits, gen, MASK_LOGITS_STD, bias_std=0.5, center=True)
        mask_features = roi_heads.mask_head(roi_heads.mask_roi_pool(features, boxes, sizes))
        roi_heads.mask_predictor(mask_features)
        lap('mask_head')

    # Keypoint head: 8 convs to unit std, the deconv's maps to KEYPOINT_LOGITS_STD centred per keypoint.
    if roi_heads.has_keypoint():
        for m in roi_heads.keypoint_head.modules():
            if isinstance(m, nn.Conv2d):
                add_fit_hook(m, gen, 1.0)
        add_fit_hook(roi_heads.keypoint_predictor.kps_score_lowres, gen, KEYPOINT_LOGITS_STD, bias_std=0.5, center=True)
        kp_features = roi_heads.keypoint_head(roi_heads.keypoint_roi_pool(features, boxes, sizes))
        roi_heads.keypoint_predictor(kp_features)
        lap('keypoint_head')
    report['elapsed_s'] = {k: round(v, 3) for k, v in times.items()}
    return report


# ---------------------------------------------------------------------------------------------
# Weights files


def save_safetensors(state_dict, path):
    """safetensors by hand: u64 LE header length, JSON header, raw little-endian data."""
    dtypes = {torch.float32: 'F32', torch.int64: 'I64', torch.float64: 'F64', torch.float16: 'F16'}
    header = {'__metadata__': {'format': 'pt', 'producer': 'tests/oracle/model.py'}}
    chunks, offset = [], 0
    for name, t in state_dict.items():
        if t.dtype not in dtypes:
            fail(f'safetensors: {name} has dtype {t.dtype}; expected one of {list(dtypes)}')
        data = t.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {'dtype': dtypes[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)  # the data starts 8-byte aligned, as the safetensors library writes
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def load_safetensors(path):
    np_dtypes = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32}
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        arr = np.frombuffer(raw, dtype=np_dtypes[info['dtype']], count=(b - a) // np.dtype(np_dtypes[info['dtype']]).itemsize,
                            offset=base + a)
        out[name] = torch.from_numpy(arr.reshape(info['shape']).copy())
    return out


def load_state_dict(path):
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
            return load_file(path)
        except ImportError:
            return load_safetensors(path)
    sd = torch.load(path, map_location='cpu', weights_only=True)  # no code execution from the file
    if isinstance(sd, dict) and 'model' in sd and isinstance(sd['model'], dict):
        sd = sd['model']
    return sd


# ---------------------------------------------------------------------------------------------
# Images


def read_image(path):
    """3×H×W float32 in [0, 1] (PIL → RGB → /255, as torchvision's to_tensor)."""
    if path.endswith('.npy'):
        a = np.load(path)
        if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3:
            return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous().float().div(255)
        if a.ndim == 3 and a.shape[0] == 3:
            return torch.from_numpy(a.astype(np.float32))
        fail(f'{path}: expected H×W×3 uint8 or 3×H×W float, found {a.dtype} {a.shape}')
    rgb = np.asarray(Image.open(path).convert('RGB'))  # H×W×3 uint8
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous().float().div(255)  # 3×H×W


def synthetic_image(seed, h=300, w=451):
    """Photo-like stand-in when no calibration photo exists: smooth colour fields + edges."""
    g = torch.Generator().manual_seed(seed + 2)
    low = torch.rand(1, 3, 6, 9, generator=g)
    img = F.interpolate(low, size=(h, w), mode='bicubic', align_corners=False)[0]  # 3×h×w
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    for _ in range(6):
        cy, cx, r = (torch.rand(3, generator=g) * torch.tensor([h, w, h / 3])).tolist()
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < r ** 2
        img[:, disc] = torch.rand(3, 1, generator=g)
    return img.clamp(0, 1)


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_build(args):
    t0 = time.perf_counter()
    formats = [f for f in args.formats.split(',') if f]
    bad = [f for f in formats if f not in ('zip', 'legacy', 'safetensors')]
    if bad:
        fail(f'--formats {args.formats}: unknown {bad}; expected a comma list of zip, legacy, safetensors')
    torch.manual_seed(args.seed)
    model = build_model(args.depth, args.num_classes, keypoints=args.keypoints, masks=not args.no_masks)
    if args.calib_image and os.path.exists(args.calib_image):
        image, source = read_image(args.calib_image), os.path.relpath(args.calib_image)
    else:
        image, source = synthetic_image(args.seed), 'synthetic'
    report = calibrate(model, image, args.seed, args.calib_min_size, args.target_detections)
    t1 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    sd = model.state_dict()
    files = {'zip': 'model.pth', 'legacy': 'model_legacy.pth', 'safetensors': 'model.safetensors'}
    for f in formats:
        path = os.path.join(args.out, files[f])
        if f == 'zip':
            torch.save(sd, path)
        elif f == 'legacy':
            torch.save(sd, path, _use_new_zipfile_serialization=False)
        else:
            save_safetensors(sd, path)
    info = {
        'seed': args.seed, 'depth': args.depth, 'num_classes': args.num_classes, 'keypoints': args.keypoints,
        'masks': not args.no_masks, 'calib_image': source,
        'calib_min_size': args.calib_min_size, 'files': [files[f] for f in formats],
        'num_tensors': len(sd), 'num_parameters': int(sum(t.numel() for t in sd.values())),
        'calibration': report, 'elapsed_s': {'build_calibrate': t1 - t0, 'save': time.perf_counter() - t1},
        'torch': torch.__version__, 'torchvision': torchvision.__version__,
    }
    with open(os.path.join(args.out, 'build.json'), 'w') as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


class Capture:
    """Forward hooks on the submodules GeneralizedRCNN.forward calls; keeps their outputs and
    the wall time between each module's pre-hook and hook."""

    def __init__(self, model):
        self.out, self.times, self._t, self.handles = {}, {}, {}, []
        mods = {
            'transform': model.transform, 'backbone_body': model.backbone.body, 'fpn': model.backbone.fpn,
            'backbone': model.backbone, 'rpn_head': model.rpn.head, 'rpn': model.rpn,
            'box_roi_pool': model.roi_heads.box_roi_pool, 'box_head': model.roi_heads.box_head,
            'box_predictor': model.roi_heads.box_predictor, 'mask_roi_pool': model.roi_heads.mask_roi_pool,
            'mask_head': model.roi_heads.mask_head, 'mask_predictor': model.roi_heads.mask_predictor,
            'keypoint_roi_pool': model.roi_heads.keypoint_roi_pool, 'keypoint_head': model.roi_heads.keypoint_head,
            'keypoint_predictor': model.roi_heads.keypoint_predictor, 'roi_heads': model.roi_heads,
        }
        for name, m in mods.items():
            if m is None:  # a branch the model does not have
                continue
            self.handles.append(m.register_forward_pre_hook(self._pre(name)))
            self.handles.append(m.register_forward_hook(self._post(name)))

    def _pre(self, name):
        def hook(module, inp):
            self._t[name] = time.perf_counter()
        return hook

    def _post(self, name):
        def hook(module, inp, out):
            if name in self.out:
                raise RuntimeError(f'{name} ran twice in one forward; the capture expects one image, one call')
            self.out[name] = out
            self.times[name] = time.perf_counter() - self._t[name]
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def npy(t, dtype=np.float32):
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(dtype))


@torch.no_grad()
def cmd_run(args):
    t0 = time.perf_counter()
    try:
        config = json.loads(args.config_json) if args.config_json else {}
    except json.JSONDecodeError as e:
        fail(f'--config-json is not JSON ({e}): expected e.g. \'{{"min_size": 320}}\'')
    if not isinstance(config, dict):
        fail(f'--config-json must be a JSON object of MaskRCNN keyword args, found {type(config).__name__}')
    sd = load_state_dict(args.weights)
    depth, num_classes = infer_architecture(sd)
    keypoints, masks = infer_branches(sd)
    depth = int(config.pop('depth', depth))
    num_classes = int(config.pop('num_classes', num_classes))
    eps = config.pop('frozen_bn_eps', None)
    for k in ('min_size', 'max_size'):
        if isinstance(config.get(k), list):
            config[k] = tuple(config[k])
    unknown = sorted(set(config) - maskrcnn_keywords())
    if unknown:
        fail(f'--config-json: unknown keys {unknown}; expected torchvision MaskRCNN keyword args '
             f'({", ".join(sorted(maskrcnn_keywords()))}) or one of {", ".join(EXTRA_CONFIG_KEYS)}')
    model = build_model(depth, num_classes, keypoints=keypoints, masks=masks, **config)
    model.load_state_dict(sd)
    if eps is not None:
        for m in model.modules():
            if isinstance(m, FrozenBatchNorm2d):
                m.eps = float(eps)
    model.eval()
    image = read_image(args.image)
    t1 = time.perf_counter()

    cap = Capture(model)
    t2 = time.perf_counter()
    result = model([image])[0]
    t3 = time.perf_counter()
    cap.remove()
    o = cap.out

    images = o['transform'][0]
    features = o['backbone']
    objectness, deltas = o['rpn_head']
    proposals = o['rpn'][0][0]
    class_logits, box_regression = o['box_predictor']
    mask_logits = o.get('mask_predictor')
    if masks and mask_logits is None:  # not reached in torchvision 0.14 (the mask branch runs on 0 boxes too)
        mask_logits = torch.zeros((0, num_classes, 28, 28))
    keypoint_logits = o.get('keypoint_predictor')
    if keypoints and keypoint_logits is None:
        keypoint_logits = torch.zeros((0, keypoints, 56, 56))
    image_size = list(images.image_sizes[0])
    original_size = list(image.shape[-2:])

    # The captured tensors are the ones the forward used: recompute postprocessing from them and
    # require bit-identical final outputs.
    rh = model.roi_heads
    boxes, scores, labels = rh.postprocess_detections(class_logits, box_regression, [proposals], images.image_sizes)
    redo = {'boxes': boxes[0], 'scores': scores[0], 'labels': labels[0]}
    if masks:
        redo['masks'] = maskrcnn_inference(mask_logits, labels)[0]
    if keypoints:
        kp, kp_scores = keypointrcnn_inference(keypoint_logits, boxes)
        redo.update({'keypoints': kp[0], 'keypoints_scores': kp_scores[0]})
    redo = model.transform.postprocess([redo], images.image_sizes, [tuple(original_size)])[0]
    for k in redo:
        if not torch.equal(redo[k], result[k]):
            raise RuntimeError(f'capture check: {k} recomputed from the captured tensors differs from model([img])')
    if list(features.keys()) != ['0', '1', '2', '3', 'pool']:
        raise RuntimeError(f'backbone returned levels {list(features.keys())}, expected 0, 1, 2, 3, pool')

    os.makedirs(args.out, exist_ok=True)
    dumps = {'image': npy(image), 'input': npy(images.tensors[0])}
    for i in range(4):
        dumps[f'fpn_{i}'] = npy(features[str(i)][0])
    dumps['fpn_pool'] = npy(features['pool'][0])
    for i, (obj, dl) in enumerate(zip(objectness, deltas)):
        dumps[f'rpn_objectness_{i}'] = npy(obj[0])  # A×h×w
        dumps[f'rpn_deltas_{i}'] = npy(dl[0])  # 4A×h×w
    dumps.update({
        'proposals': npy(proposals), 'class_logits': npy(class_logits), 'box_regression': npy(box_regression),
        'boxes': npy(result['boxes']), 'labels': npy(result['labels'], np.int64), 'scores': npy(result['scores']),
    })
    if masks:
        dumps.update({'mask_logits': npy(mask_logits), 'masks': npy(result['masks'])})
    if keypoints:
        dumps.update({'keypoint_logits': npy(keypoint_logits), 'keypoints': npy(result['keypoints']),
                      'keypoints_scores': npy(result['keypoints_scores'])})
    for name, arr in dumps.items():
        np.save(os.path.join(args.out, f'{name}.npy'), arr)
    t4 = time.perf_counter()

    obj_all = torch.cat([x.flatten() for x in objectness])
    meta = {
        'image_size': image_size, 'padded_size': list(images.tensors.shape[-2:]), 'original_size': original_size,
        'num_proposals': int(proposals.shape[0]), 'num_detections': int(result['boxes'].shape[0]),
        'depth': depth, 'num_classes': num_classes, 'keypoints': keypoints, 'masks': masks, 'frozen_bn_eps': float(eps) if eps is not None else 1e-5,
        'config': {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()},
        'capture_verified': True,
        'torch': torch.__version__, 'torchvision': torchvision.__version__, 'threads': torch.get_num_threads(),
        'stats': {
            'rpn_objectness': {'min': float(obj_all.min()), 'max': float(obj_all.max()), 'std': float(obj_all.std())},
            'class_logits_max_fg_prob': float(F.softmax(class_logits, -1)[:, 1:].max()) if class_logits.numel() else None,
            'mask_logits': ({'min': float(mask_logits.min()), 'max': float(mask_logits.max())}
                            if masks and mask_logits.numel() else None),
            'keypoint_logits': ({'min': float(keypoint_logits.min()), 'max': float(keypoint_logits.max())}
                                if keypoints and keypoint_logits.numel() else None),
            'scores': ({'min': float(result['scores'].min()), 'max': float(result['scores'].max())}
                       if result['scores'].numel() else None),
            'labels_distinct': int(result['labels'].unique().numel()),
        },
        'elapsed_s': {
            'load': t1 - t0, 'forward': t3 - t2, 'write': t4 - t3,
            **{k: v for k, v in cap.times.items()},
        },
        'files': sorted(f'{n}.npy' for n in dumps),
    }
    with open(os.path.join(args.out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build calibrated random weights')
    b.add_argument('--out', required=True)
    b.add_argument('--seed', type=int, default=0)
    b.add_argument('--depth', type=int, default=50)
    b.add_argument('--num-classes', type=int, default=91)
    b.add_argument('--keypoints', type=int, default=None, help='add the keypoint branch with K keypoints')
    b.add_argument('--no-masks', action='store_true', help='no mask branch (KeypointRCNN; needs --keypoints)')
    b.add_argument('--formats', default='zip,legacy,safetensors')
    b.add_argument('--calib-image', default=DEFAULT_CALIB_IMAGE,
                   help='photo the weights are calibrated on (default: tests/fixtures/photos/chelsea.jpg; '
                        'a synthetic image when missing)')
    b.add_argument('--calib-min-size', type=int, default=320)
    b.add_argument('--target-detections', type=int, default=TARGET_DETECTIONS,
                   help='about this many detections on the calibration image (the background logit is shifted to get them)')
    r = sub.add_parser('run', help='run a checkpoint on an image and dump every stage')
    r.add_argument('--weights', required=True)
    r.add_argument('--image', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--config-json', default='')
    args = p.parse_args(argv)
    global FAST_KERNELS
    FAST_KERNELS = use_fast_cpu_kernels()
    (cmd_build if args.cmd == 'build' else cmd_run)(args)


if __name__ == '__main__':
    main()
