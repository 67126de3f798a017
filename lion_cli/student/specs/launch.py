"""How a job's processes are started: the launcher and the process layout over nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lion_cli.student.specs.base import NOT_NEGATIVE, POSITIVE, Limit, Spec, SpecError
from lion_cli.student.specs.choices import Launcher


@dataclass
class LaunchConfig(Spec):
    """How a job's processes are started (launcher.build_argv); checked when built."""

    launcher: Launcher = "python"
    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str = ""  # host:port of node 0 (multi-node torchrun / accelerate)
    master_port: int | None = None  # None: a free port is picked for single-node runs
    hostfile: str = ""  # DeepSpeed multi-node
    include: str = ""  # DeepSpeed --include, e.g. "localhost:0,1"
    rdzv_id: str = "lion"

    limits: ClassVar[dict[str, Limit]] = {"nproc_per_node": POSITIVE, "nnodes": POSITIVE, "node_rank": NOT_NEGATIVE}

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        super().validate()
        if self.launcher == "python" and self.world_size > 1:
            raise SpecError("launcher 'python' runs one process; use torchrun, deepspeed or accelerate for more")
        if self.nnodes > 1 and self.launcher in ("torchrun", "accelerate") and not self.rdzv_endpoint:
            raise SpecError(f"{self.nnodes} nodes with {self.launcher} need rdzv_endpoint (host:port of node 0)")
        if self.nnodes > 1 and self.launcher == "deepspeed" and not self.hostfile:
            raise SpecError(f"{self.nnodes} nodes with deepspeed need a hostfile")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes
