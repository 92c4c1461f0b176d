"""TensorBoard event files for a run (TrainConfig.tensorboard): `tensorboard --logdir RUN_DIR`.

The writer is a trainer callback. It writes what the run's JSON records hold: each logged
step record (the lines of metrics.jsonl) under "train/<key>", each evaluation record
(TrainResult.history) under "eval/<key>", all at their step. Events are flushed as they
are written, so an interrupted run loses none that its checkpoint covers.

A resumed run opens its writer with purge_step at its first new step: TensorBoard then
hides what the interrupted session wrote after the checkpoint, and no step appears twice.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BlocklabError
from .result import TrainState

INSTALL = "pip install 'blocklab[tensorboard]'"


def _summary_writer() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise BlocklabError(f"TrainConfig.tensorboard=True needs the tensorboard package; install it with: {INSTALL}, "
                            "or set tensorboard=False") from None
    return SummaryWriter


class TensorBoardLog:
    """Callback writing step and evaluation records to `directory` as TensorBoard scalars."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writer_class = _summary_writer()  # a missing package fails before training starts
        self.writer: Any = None

    def __call__(self, event: str, state: TrainState) -> None:
        if event == "end":
            if self.writer is not None:
                self.writer.close()
            return
        if self.writer is None:  # the first event of this session: step 1, or the first after a resume
            self.writer = self.writer_class(str(self.directory), purge_step=state.step)
        if event == "step" and "grad_norm" not in state.record:  # not a log step: metrics.jsonl skips it too
            return
        prefix = "train" if event == "step" else "eval"
        for key, value in state.record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{prefix}/{key}", value, state.step)
        self.writer.flush()


def tensorboard_callbacks(enabled: bool, run_dir: Path | None) -> list[TensorBoardLog]:
    """[a TensorBoardLog writing to run_dir/tensorboard] when enabled, else []."""
    if not enabled:
        return []
    if run_dir is None:
        raise BlocklabError("TrainConfig.tensorboard=True writes to run_dir/tensorboard, but fit was given no "
                            "run_dir; pass one, or set tensorboard=False")
    return [TensorBoardLog(run_dir / "tensorboard")]
