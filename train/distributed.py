"""Data-parallel training on the engine the HF stack already has.

`torchrun --nproc_per_node N -m videoedge.runtime.cli train ...` (or `accelerate launch`)
starts N copies of the command; the `Trainer` wraps the model in DistributedDataParallel
(NCCL on GPUs, gloo on CPUs) and feeds each process its share of every batch. What videoedge
adds is the file system discipline: only the main process creates, writes and renames the
run folders, the others wait for it at the points where it must have finished, and at the end
every process's weights are compared, so "one model" is checked, not assumed.

A single process (no torchrun) is world size 1 and every function here is a no-op.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def start() -> None:
    """Join the process group now (the Trainer would on its own, later), so that the setup
    before training can wait for the main process."""
    if world_size() > 1:
        import torch
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())


def wait_for_main() -> None:
    """Every process waits here until all have arrived (the main one's files are written)."""
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def replicas_identical(model) -> bool:
    """True when every process holds exactly the same weights (a checksum per process,
    gathered); True at world size 1."""
    if world_size() == 1:
        return True
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        total = torch.zeros(2, dtype=torch.float64)
        for i, p in enumerate(model.parameters()):
            flat = p.detach().double().flatten().cpu()
            total[0] += flat.sum()
            total[1] += (flat * (1 + (i % 7))).abs().sum()
    device = next(model.parameters()).device
    gathered = [torch.zeros_like(total, device=device) for _ in range(world_size())]
    dist.all_gather(gathered, total.to(device))
    return all(torch.equal(g.cpu(), gathered[0].cpu()) for g in gathered)
