"""Training-step throughput of the engine's DCGAN against a plain fp32 PyTorch version of the same networks.

    .venv/bin/python bench/image_dcgan_speed.py [--steps 20] [--batch-size 64] [--channels 48] [--quality-steps 150]

Both sides train the same unconditional architecture with the hinge loss, Adam and the same
batches, in one process on one machine. The generator is a linear projection and three transposed
convolutions with batch norm, and the discriminator has spectral-norm convolutions and sum pooling. The plain side is what one writes by
hand: fp32, default memory format, separate discriminator passes for real and fake images. The
engine side is GanTrainer: bf16 autocast (when the CPU has native bf16), channels_last, and one
batched discriminator pass. Quality is checked by training both from the same initial weights
for ``--quality-steps`` steps and comparing the classifier Fréchet distance and diversity of their
samples, measured with the shipped procedural tag classifier.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from engine.core.device import pick_compute
from engine.image.datasets import load_image_data
from engine.image.evaluate import classify, frechet_distance, load_classifier, mean_pairwise_distance
from engine.image.runs import default_classifier_path, hardware_description
from engine.image.train import GanTrainer, ImageTrainConfig


RESOLUTION = 32  # the plain networks below have three upsampling layers: 4 -> 32 px


class PlainGenerator(nn.Module):
    """The engine's unconditional generator written out by hand; parameter names match so weights load across."""

    def __init__(self, z_dim: int, channels: int) -> None:
        super().__init__()
        self.top = channels * 4
        self.project = nn.Linear(z_dim, self.top * 16)
        self.norms = nn.ModuleList([nn.BatchNorm2d(channels * 4), nn.BatchNorm2d(channels * 2), nn.BatchNorm2d(channels)])
        self.ups = nn.ModuleList([nn.ConvTranspose2d(channels * 4, channels * 2, 4, 2, 1, bias=False),
                                  nn.ConvTranspose2d(channels * 2, channels, 4, 2, 1, bias=False),
                                  nn.ConvTranspose2d(channels, 3, 4, 2, 1)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(-1, self.top, 4, 4)  # (batch, C*16) -> (batch, C, 4, 4)
        for norm, up in zip(self.norms, self.ups):
            x = up(torch.relu(norm(x)))
        return torch.tanh(x)


class PlainDiscriminator(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            spectral_norm(nn.Conv2d(3, channels, 4, 2, 1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(channels, channels * 2, 4, 2, 1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(channels * 2, channels * 4, 4, 2, 1)), nn.LeakyReLU(0.2))
        self.linear = spectral_norm(nn.Linear(channels * 4, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(images).sum(dim=(2, 3))).squeeze(1)  # (batch, C, 4, 4) -> (batch, C) -> (batch,)


class PlainTrainer:
    """The hand-written fp32 loop, fed the same batches as the engine's trainer."""

    def __init__(self, engine: GanTrainer) -> None:
        config = engine.config
        self.engine = engine
        self.generator = PlainGenerator(config.z_dim, config.g_channels)
        self.discriminator = PlainDiscriminator(config.d_channels)
        self.generator.load_state_dict(engine.generator.state_dict())
        self.discriminator.load_state_dict(engine.discriminator.state_dict())
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2))
        self.step = 0

    def train_step(self) -> dict[str, float]:
        self.step += 1
        rng = torch.Generator().manual_seed(self.engine.config.seed * 1_000_003 + self.step)
        batch = self.engine.config.batch_size
        index = torch.randint(len(self.engine.images), (batch,), generator=rng)
        real = self.engine.images[index].float() / 127.5 - 1.0
        flip = torch.rand(batch, generator=rng) < 0.5
        real = torch.where(flip[:, None, None, None], real.flip(3), real)
        z = torch.randn(batch, self.engine.config.z_dim, generator=rng)

        fake = self.generator(z)
        loss_d = F.relu(1.0 - self.discriminator(real)).mean() + F.relu(1.0 + self.discriminator(fake.detach())).mean()
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        loss_g = -self.discriminator(fake).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        return {"loss/d": loss_d.item(), "loss/g": loss_g.item()}


def time_steps(step, count: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - started) / count


@torch.no_grad()
def sample_quality(generator: nn.Module, classifier, real_features: torch.Tensor, count: int = 500) -> dict[str, float]:
    generator.eval()
    z = torch.randn(count, generator_z_dim(generator), generator=torch.Generator().manual_seed(123))
    images = generator(z).float()
    generator.train()
    _, features = classify(classifier.model, images)
    return {"frechet/classifier": frechet_distance(real_features, features),
            "diversity/generated": mean_pairwise_distance(features)}


def generator_z_dim(generator: nn.Module) -> int:
    return generator.project.in_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--quality-steps", type=int, default=150, help="training steps before the quality check (0 skips it)")
    args = parser.parse_args()

    data = load_image_data("procedural", RESOLUTION, procedural_faces=4000)
    config = ImageTrainConfig(model="dcgan", resolution=RESOLUTION, batch_size=args.batch_size,
                              g_channels=args.channels, d_channels=args.channels, flip=True,
                              mode_seeking_weight=0.0)  # the plain loop has no mode-seeking term
    compute = pick_compute("cpu")
    engine = GanTrainer(config, data, compute)
    plain = PlainTrainer(engine)

    results = {"hardware": hardware_description(compute), "batch_size": args.batch_size, "channels": args.channels,
               "resolution": RESOLUTION}
    if args.quality_steps > 0:
        classifier = load_classifier(default_classifier_path("procedural"))
        real = load_image_data("procedural", RESOLUTION, split="heldout", procedural_faces=500)
        _, real_features = classify(classifier.model, real.images)
        for _ in range(args.quality_steps):
            engine.train_step()
            plain.train_step()
        results["quality_after_steps"] = args.quality_steps
        results["quality/engine"] = sample_quality(engine.generator, classifier, real_features)
        results["quality/plain_fp32"] = sample_quality(plain.generator, classifier, real_features)

    results["s_per_step/plain_fp32"] = time_steps(plain.train_step, args.steps)
    results["s_per_step/engine"] = time_steps(engine.train_step, args.steps)
    results["engine_precision"] = compute.precision
    results["speedup"] = results["s_per_step/plain_fp32"] / results["s_per_step/engine"]
    results["images_per_s/plain_fp32"] = args.batch_size / results["s_per_step/plain_fp32"]
    results["images_per_s/engine"] = args.batch_size / results["s_per_step/engine"]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
