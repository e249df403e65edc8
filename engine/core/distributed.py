"""Multi-process training helpers: start-up from torchrun's environment, rank gating and reductions.

A run is distributed when torchrun (``torch.distributed.run``) sets WORLD_SIZE above 1. The backend
is gloo on the CPU and NCCL on CUDA. Without those variables every helper here acts as a
single-process no-op, so training code calls them unconditionally.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a run: rank, world size and the collective backend ("" when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the one process that writes checkpoints, logs and prints (rank 0)."""
        return self.rank == 0


SINGLE_PROCESS = DistributedContext()


def env_requests_distributed() -> bool:
    """Return True when torchrun's environment variables ask for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the process group described by RANK, WORLD_SIZE and LOCAL_RANK, or return SINGLE_PROCESS.

    On CUDA each process binds to GPU LOCAL_RANK. Call shutdown_distributed() when done.

    Raises:
        ValueError: when the variables are inconsistent, or NCCL is requested on a machine
            with fewer GPUs than local processes.
    """
    if not env_requests_distributed():
        return SINGLE_PROCESS
    try:
        rank = int(os.environ["RANK"])
        world_size = int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError) as error:
        raise ValueError(f"WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number ({error}); "
                         "start distributed runs with torchrun.") from error
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK must be in [0, WORLD_SIZE={world_size}), got {rank}.")

    backend = "nccl" if device.type == "cuda" else "gloo"
    # NOTE: only the gloo path is covered by tests; the NCCL path has not been run on GPUs yet.
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank} needs GPU {local_rank}, but only "
                             f"{torch.cuda.device_count()} are visible; start fewer processes per node.")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    logger.info("Joined distributed run: rank %d of %d, backend %s", rank, world_size, backend)
    return DistributedContext(rank, world_size, local_rank, backend)


def shutdown_distributed(context: DistributedContext) -> None:
    """Leave the process group when this process joined one."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_module(module: nn.Module, context: DistributedContext) -> nn.Module:
    """Wrap ``module`` in DistributedDataParallel when distributed, otherwise return it unchanged.

    DDP broadcasts rank 0's parameters at construction, so every rank starts from the same weights.
    """
    if not context.enabled:
        return module
    device_ids = [context.local_rank] if context.backend == "nccl" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


def _reduction_device(context: DistributedContext) -> torch.device:
    return torch.device("cuda", context.local_rank) if context.backend == "nccl" else torch.device("cpu")


def mean_across_ranks(values: Mapping[str, float], context: DistributedContext) -> dict[str, float]:
    """Average a flat dict of floats over all ranks (one all-reduce); identity when alone."""
    if not context.enabled:
        return dict(values)
    keys = sorted(values)
    packed = torch.tensor([float(values[key]) for key in keys], dtype=torch.float64, device=_reduction_device(context))
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return {key: float(total) / context.world_size for key, total in zip(keys, packed.tolist())}


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """Return True on every rank when ``flag`` is True on at least one, so all ranks stop together."""
    if not context.enabled:
        return flag
    packed = torch.tensor([1.0 if flag else 0.0], device=_reduction_device(context))
    dist.all_reduce(packed, op=dist.ReduceOp.MAX)
    return bool(packed.item() > 0)


def gather_objects(value: Any, context: DistributedContext) -> list[Any]:
    """Collect one picklable object from every rank, in rank order; ``[value]`` when alone."""
    if not context.enabled:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: DistributedContext) -> None:
    """Wait until every rank gets here; no-op when alone."""
    if context.enabled:
        dist.barrier()
