"""The shared `main()` of the data-parallel entry scripts (generate, score): read `--spec`, join the
process group when launched with several ranks (only for the final barrier), run this rank's shard."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def ranked_main(prog: str, argv: list[str] | None, load_spec: Callable[[Path], dict[str, Any]],
                run: Callable[[dict[str, Any], int, int], None], spec_error: type[Exception]) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--spec", required=True, type=Path)
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    try:
        spec = load_spec(args.spec)
        if world > 1:
            import torch.distributed as dist

            # A long timeout: ranks may finish their shards far apart.
            dist.init_process_group("gloo", timeout=datetime.timedelta(hours=48))
        run(spec, rank, world)
    except spec_error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
    return 0
