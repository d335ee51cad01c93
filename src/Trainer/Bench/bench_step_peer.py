"""PyTorch's side of `hpcadam bench step` (src/Trainer/Bench/StepBenchCommand.cs; the hpcadam assembly embeds this file).

The trainer's ResNet-18 and ViT (src/Trainer/Models) rebuilt layer for layer, trained with
torch.optim.Adam on random 1x28x28 images of 10 classes made once on the device: per step, kappa
micro-batches of forward and backward (PyTorch accumulates their gradients in .grad), then one
optimizer step. Phase times come from torch.cuda.Event on a GPU (the device's time; one
synchronisation at the end of each step, as HpcAdam's step) and time.perf_counter on the CPU.
The steady state is the median over the last --steady-steps steps, the window of HpcAdam's TrainingResult.Steady.

Prints one JSON line per (model, config, precision): the parameter count (the C# side refuses to
compare models that differ), median ms by phase and in total; or an "error" saying why the row
could not run. Works with PyTorch 1.13 and 2.x.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 10
IMAGE = (1, 28, 28)


class BasicBlock(nn.Module):
    """ResNet's basic block as src/Trainer/Models/BasicBlock.cs: no convolution bias, batch norm."""

    def __init__(self, inputs, channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)
        self.shortcut = None
        if stride != 1 or inputs != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        residual = self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x)))))
        return F.relu(residual + (x if self.shortcut is None else self.shortcut(x)))


class ResNet18(nn.Module):
    """src/Trainer/Models/ResNet18.cs: a 3x3 stem without pooling, four stages of two blocks, mean pool, linear."""

    def __init__(self):
        super().__init__()
        widths = [64, 128, 256, 512]
        self.stem = nn.Sequential(nn.Conv2d(IMAGE[0], 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        stages, inputs = [], 64
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            stages.append(nn.Sequential(BasicBlock(inputs, width, stride), BasicBlock(width, width, 1)))
            inputs = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(512, CLASSES)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1).flatten(1))


class SelfAttention(nn.Module):
    """src/Trainer/Models/SelfAttention.cs: one qkv projection, QK-layernorm shared by the heads."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads, self.head_width = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.query_norm = nn.LayerNorm(self.head_width)
        self.key_norm = nn.LayerNorm(self.head_width)
        self.out = nn.Linear(width, width)

    def forward(self, x):
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.heads, self.head_width).permute(2, 0, 3, 1, 4)
        query, key = self.query_norm(qkv[0]), self.key_norm(qkv[1])
        logits = query.matmul(key.transpose(-2, -1)) / math.sqrt(self.head_width)
        mixed = logits.softmax(-1).matmul(qkv[2])
        return self.out(mixed.transpose(1, 2).reshape(batch, tokens, -1))


class TransformerBlock(nn.Module):
    """src/Trainer/Models/TransformerBlock.cs: pre-norm attention, then a GELU MLP four times as wide."""

    def __init__(self, width, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """src/Trainer/Models/VisionTransformer.cs with the trainer's defaults (Model:PatchSize 4, Depth 6, Width 192, Heads 3)."""

    def __init__(self, patch=4, depth=6, width=192, heads=3):
        super().__init__()
        patches = (IMAGE[1] // patch) * (IMAGE[2] // patch)
        self.patch_embedding = nn.Conv2d(IMAGE[0], width, patch, stride=patch)
        self.position_embedding = nn.Parameter(torch.randn(1, patches, width) * 0.02)
        self.blocks = nn.ModuleList([TransformerBlock(width, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x):
        tokens = self.patch_embedding(x).flatten(2).transpose(1, 2) + self.position_embedding
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens).mean(1))


MODELS = {"resnet18": ResNet18, "vit": VisionTransformer}


def adam(parameters, device):
    """torch.optim.Adam with HpcAdam's defaults (lr 1e-3, beta = 1 - gamma): fused where this PyTorch has it for the device, else foreach."""
    settings = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    try:
        return torch.optim.Adam(parameters, fused=True, **settings), "fused"
    except (TypeError, RuntimeError, ValueError):
        # 1.13 and 2.0-2.3 have no fused Adam on the CPU (and 1.12 none at all).
        return torch.optim.Adam(parameters, foreach=True, **settings), "foreach"


class Clock:
    """Phase boundaries of one step: CUDA events on a GPU, the host's clock on the CPU."""

    def __init__(self, device, marks):
        self.cuda = device.type == "cuda"
        self.events = [torch.cuda.Event(enable_timing=True) for _ in range(marks)] if self.cuda else None
        self.times = [0.0] * marks

    def mark(self, index):
        if self.cuda:
            self.events[index].record()
        else:
            self.times[index] = time.perf_counter()

    def intervals_ms(self):
        if self.cuda:
            self.events[-1].synchronize()
            return [a.elapsed_time(b) for a, b in zip(self.events, self.events[1:])]
        return [1000 * (b - a) for a, b in zip(self.times, self.times[1:])]


def run(model_name, micro_batch, kappa, precision, steps, steady_steps, device):
    torch.manual_seed(0)
    model = MODELS[model_name]().to(device)
    parameters = sum(p.numel() for p in model.parameters())
    optimizer, kind = adam(list(model.parameters()), device)
    images = torch.randn(kappa, micro_batch, *IMAGE, device=device)
    labels = torch.randint(0, CLASSES, (kappa, micro_batch), device=device)
    dtype = torch.bfloat16 if precision == "bfloat16" else None
    clock = Clock(device, 4)
    phases = []
    for _ in range(steps):
        clock.mark(0)
        for k in range(kappa):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(model(images[k]), labels[k]) / kappa
            loss.backward()
        clock.mark(1)
        optimizer.step()
        clock.mark(2)
        optimizer.zero_grad(set_to_none=True)
        clock.mark(3)
        phases.append(clock.intervals_ms())
    if not all(math.isfinite(p.float().sum().item()) for p in model.parameters()):
        raise RuntimeError("the weights are not finite after the run")
    steady = phases[-steady_steps:]
    median = statistics.median
    return {
        "parameters": parameters,
        "adam": kind,
        "steady_steps": len(steady),
        "ms": {
            "compute": median([p[0] for p in steady]),
            "optim": median([p[1] for p in steady]),
            "other": median([p[2] for p in steady]),
            "total": median([sum(p) for p in steady]),
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True)
    parser.add_argument("--configs", required=True, help="MxK,... (micro-batch size x micro-batches per step)")
    parser.add_argument("--precisions", required=True)
    parser.add_argument("--steps", type=int, required=True, help="all steps of a run, warm-up included")
    parser.add_argument("--steady-steps", type=int, required=True, help="the last steps, whose medians are reported")
    parser.add_argument("--device", required=True, choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"}), flush=True)
    for model_name in args.models.split(","):
        for config in args.configs.split(","):
            micro_batch, kappa = (int(value) for value in config.split("x"))
            for precision in args.precisions.split(","):
                row = {"model": model_name, "micro_batch": micro_batch, "kappa": kappa, "precision": precision}
                try:
                    row.update(run(model_name, micro_batch, kappa, precision, args.steps, args.steady_steps, device))
                except Exception as error:  # noqa: BLE001 - the row says why it could not run, the next row still runs
                    row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".strip()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
