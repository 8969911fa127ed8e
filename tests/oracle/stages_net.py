"""Oracle for the convolutional stages (tests/stages_net.test.ts).

Builds torchvision's MaskRCNN (ResNet-FPN backbone with FrozenBatchNorm2d, RPNHead, TwoMLPHead,
FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor) with random weights from a fixed seed, runs
each convolutional stage on random inputs, and writes into OUTDIR:
  sd/<state dict name>.npy      every tensor of model.state_dict() (float32)
  io/<name>.npy                 inputs and outputs (NCHW / torch layout), see OUTPUTS below
  manifest.json                 {"state_dict": [names], "io": [names]}

Usage: stages_net.py OUTDIR [--depth 50] [--width 64] [--fpn 256] [--height 96] [--image-width 128]
         [--classes 91] [--representation 1024] [--mask-layers 256,256,256,256] [--dilation 1]
         [--dim-reduced 256] [--anchor-sizes 1] [--box-rois 5] [--mask-rois 3]
"""
import argparse
import json
import os

import numpy as np
import torch
from torchvision.models import resnet
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import misc as misc_nn_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


def build_body(depth, width):
    """torchvision ResNet with FrozenBatchNorm2d; a width other than 64 rebuilds the stem and the
    four stages with torchvision's own _make_layer (stem `width`, stage k planes width·2^(k-1))."""
    block = resnet.BasicBlock if depth < 50 else resnet.Bottleneck
    body = resnet.ResNet(block, BLOCKS[depth], norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    if width != 64:
        body.inplanes = width
        body.conv1 = torch.nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        torch.nn.init.kaiming_normal_(body.conv1.weight, mode="fan_out", nonlinearity="relu")
        body.bn1 = misc_nn_ops.FrozenBatchNorm2d(width)
        body.layer1 = body._make_layer(block, width, BLOCKS[depth][0])
        body.layer2 = body._make_layer(block, width * 2, BLOCKS[depth][1], stride=2)
        body.layer3 = body._make_layer(block, width * 4, BLOCKS[depth][2], stride=2)
        body.layer4 = body._make_layer(block, width * 8, BLOCKS[depth][3], stride=2)
    return body, block.expansion


def randomize(model, gen):
    """Non-trivial FrozenBN statistics and non-zero biases everywhere (torchvision zero-inits many)."""
    for m in model.modules():
        if isinstance(m, misc_nn_ops.FrozenBatchNorm2d):
            n = m.weight.numel()
            m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
        elif isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    for m in model.rpn.head.modules():  # RPNHead inits weights with std 0.01: make them matter
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--depth", type=int, default=50)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--fpn", type=int, default=256)
    p.add_argument("--height", type=int, default=96)
    p.add_argument("--image-width", type=int, default=128)
    p.add_argument("--classes", type=int, default=91)
    p.add_argument("--representation", type=int, default=1024)
    p.add_argument("--mask-layers", default="256,256,256,256")
    p.add_argument("--dilation", type=int, default=1)
    p.add_argument("--dim-reduced", type=int, default=256)
    p.add_argument("--anchor-sizes", type=int, default=1, help="anchor sizes per level")
    p.add_argument("--box-rois", type=int, default=5)
    p.add_argument("--mask-rois", type=int, default=3)
    a = p.parse_args()

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    body, expansion = build_body(a.depth, a.width)
    in_channels = [a.width * expansion * 2**k for k in range(4)]
    backbone = BackboneWithFPN(
        body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}, in_channels, a.fpn, extra_blocks=LastLevelMaxPool()
    )
    sizes = tuple(tuple(32 * 2**lvl * 2**j for j in range(a.anchor_sizes)) for lvl in range(5))
    anchor_gen = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
    num_anchors = anchor_gen.num_anchors_per_location()[0]
    mask_layers = [int(v) for v in a.mask_layers.split(",")]
    S_BOX, S_MASK = 7, 14
    model = MaskRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchor_gen,
        rpn_head=RPNHead(a.fpn, num_anchors),
        box_head=TwoMLPHead(a.fpn * S_BOX * S_BOX, a.representation),
        box_predictor=FastRCNNPredictor(a.representation, a.classes),
        mask_head=MaskRCNNHeads(a.fpn, mask_layers, a.dilation),
        mask_predictor=MaskRCNNPredictor(mask_layers[-1], a.dim_reduced, a.classes),
    ).eval()

    io = {}
    with torch.no_grad():
        randomize(model, gen)
        image = torch.randn(1, 3, a.height, a.image_width, generator=gen)
        cs = model.backbone.body(image)
        ps = model.backbone.fpn(cs)
        objectness, deltas = model.rpn.head(list(ps.values()))
        box_pooled = torch.randn(a.box_rois, a.fpn, S_BOX, S_BOX, generator=gen)
        class_logits, box_regression = model.roi_heads.box_predictor(model.roi_heads.box_head(box_pooled))
        mask_pooled = torch.randn(a.mask_rois, a.fpn, S_MASK, S_MASK, generator=gen)
        mask_logits = model.roi_heads.mask_predictor(model.roi_heads.mask_head(mask_pooled))

    io["image"] = image
    for k, name in zip(["0", "1", "2", "3"], ["c2", "c3", "c4", "c5"]):
        io[name] = cs[k]
    for k, v in ps.items():
        io[f"fpn_{k}"] = v
    for i, (o, d) in enumerate(zip(objectness, deltas)):
        io[f"rpn_objectness_{i}"] = o
        io[f"rpn_deltas_{i}"] = d
    io.update(
        box_pooled=box_pooled,
        class_logits=class_logits,
        box_regression=box_regression,
        mask_pooled=mask_pooled,
        mask_logits=mask_logits,
    )

    sd = model.state_dict()
    os.makedirs(os.path.join(a.outdir, "sd"), exist_ok=True)
    os.makedirs(os.path.join(a.outdir, "io"), exist_ok=True)
    for name, t in sd.items():
        np.save(os.path.join(a.outdir, "sd", name + ".npy"), t.detach().float().numpy())
    for name, t in io.items():
        np.save(os.path.join(a.outdir, "io", name + ".npy"), t.detach().float().contiguous().numpy())
    with open(os.path.join(a.outdir, "manifest.json"), "w") as f:
        json.dump({"state_dict": list(sd.keys()), "io": list(io.keys()), "num_anchors": num_anchors}, f)


if __name__ == "__main__":
    main()
