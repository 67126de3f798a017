"""A wrapper around one of lion's training entry scripts (train or dpo) that runs it unchanged but
saves each rank's weights and what it saw as the script reaches its final save: the 2-process
torchrun tests compare the ranks' weights with it."""

from __future__ import annotations

_TEMPLATE = """
import json
import os
import lion_cli.student.scripts.train_callbacks as callbacks
from lion_cli.student.scripts import {script}

_finish = callbacks.finish

def finish(trainer, spec, out):
    import torch
    state = {{k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}}
    torch.save(state, out / f"rank{{os.environ['RANK']}}.pt")
    seen = {{"world_size": trainer.args.world_size, "wrapper": type(trainer.model_wrapped).__name__}}
    (out / f"rank{{os.environ['RANK']}}.json").write_text(json.dumps(seen))
    return _finish(trainer, spec, out)

callbacks.finish = finish
raise SystemExit({script}.main())
"""


def rank_dump(script: str) -> str:
    """The wrapper's source for `lion_cli.student.scripts.<script>` ("train" or "dpo")."""
    return _TEMPLATE.format(script=script)
