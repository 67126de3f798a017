"""What the data-parallel entry scripts (generate, score) share: the `main()` that reads `--spec` and
joins the process group when launched with several ranks, the barrier before rank 0 merges, and
the device each rank decodes on. Rank r takes rows r::world (by position in the input)."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lion_cli.student.specs import Spec, SpecError

S = TypeVar("S", bound=Spec)


def ranked_main(prog: str, argv: list[str] | None, spec_class: type[S], run: Callable[[S, int, int], None]) -> int:
    """Exit code 2 with the problem on stderr for a bad spec or input file, 0 when this rank is done."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--spec", required=True, type=Path)
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    try:
        spec = spec_class.read(args.spec)
        if world > 1:
            import torch.distributed as dist

            # A long timeout: ranks may finish their shards far apart.
            dist.init_process_group("gloo", timeout=datetime.timedelta(hours=48))
        run(spec, rank, world)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
    return 0


def barrier(world: int) -> None:
    """Wait for every rank (a no-op for one process)."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def rank_device() -> str | None:
    """This rank's GPU (LOCAL_RANK over the visible devices), or None for the CPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
