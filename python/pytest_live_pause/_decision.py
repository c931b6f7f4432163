"""The verdict a checkpoint returns (``pytest_live_pause.Decision``),
imported on first use (the package's ``__getattr__``): making a dataclass
compiles its methods, which a run that never pauses need not pay for at
start."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """The verdict a checkpoint returns.

    result: ``True``/``False`` as given by ``resume --result true|false``,
    ``None`` for ``--result none``, a timeout, or an abort.
    reason: the ``--reason`` text, ``"Mock"`` for mocked checkpoints, or None.
    outcome: ``"resumed"``, ``"timed_out"``, ``"mocked"`` or ``"aborted"``.
    pause_id: the pause's id, None for mocked checkpoints.
    failure_reason: the ``--failure-reason`` text of the resume command, or
    None (a field of 0.1.1's ResumeDecision).
    attachments: the paths of the files the resumer attached (``resume
    --attach FILE``), each in the run's blob store and verified; () if none.
    value: with ``checkpoint(task, choices=[...])``, the choice given by
    ``resume --value CHOICE`` (one of the choices), else None.
    """

    result: bool | None
    reason: str | None
    outcome: str
    pause_id: str | None
    failure_reason: str | None = None
    attachments: tuple[str, ...] = ()
    value: str | None = None


Decision.__module__ = "pytest_live_pause"  # its public name (pickle, docs)
