"""What a pipeline stage is: a batch of verdicts in, each kept or held (with its reason) out.

A `Verdict` says what happens to one target of one event (send, defer, hold, group). A `Stage`
gets the verdicts still on their way (action "send") and returns one verdict for each: the same
one when it keeps it, or one held, deferred or grouped, naming itself and why. A stage may also
record what an event says before any stage decides (`observe`), and act on the final verdicts
(`after`). Stages that hold a whole event share one shape, the `Muter` (Alertmanager's): `mutes`
gives the reason or None, and `MuteStage` holds every target with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..config.types import Target
from ..model import Event


@dataclass(frozen=True, slots=True)
class Verdict:
    """What happens to one target of an event."""
    target: Target
    action: str  # send | defer | hold | group
    reason: str = ""
    until: float = 0.0  # defer: when it may go
    group: str = ""
    stage: str = ""  # the stage that held or deferred it: lifecycle, silence, inhibit, window, group, budget

    def held(self, stage: str, reason: str, action: str = "hold", until: float = 0.0, group: str = "") -> "Verdict":
        """This target held back (or deferred, or grouped) by `stage`, saying why."""
        return Verdict(self.target, action, reason, until, group, stage)


@dataclass(frozen=True, slots=True)
class Case:
    """One event being decided: the event, the clock's time, and whether state is written
    (apply=False: a dry run for `alertrouter route` and the console, which writes nothing)."""
    event: Event
    now: float
    apply: bool = True


class Stage:
    """One step of the pipeline. The defaults keep everything and record nothing."""

    name = ""

    def observe(self, case: Case) -> None:
        """Record what the event says, for every event, before any stage decides."""

    def decide(self, case: Case, kept: list[Verdict]) -> list[Verdict]:
        """One verdict for each of `kept` (all still "send"): the same one, or one held with its reason."""
        return kept

    def after(self, case: Case, verdicts: list[Verdict]) -> None:
        """Act on the event's final verdicts (one per target, in target order)."""


class Muter(Protocol):
    def mutes(self, event: Event, now: float, apply: bool) -> str | None:
        """Why the whole event is held, or None."""


class MuteStage(Stage):
    """A muter as a stage: when it mutes the event, every target is held with its reason."""

    def __init__(self, name: str, muter: Muter):
        self.name, self.muter = name, muter

    def decide(self, case: Case, kept: list[Verdict]) -> list[Verdict]:
        reason = self.muter.mutes(case.event, case.now, case.apply)
        return kept if reason is None else [v.held(self.name, reason) for v in kept]


def run(stages: tuple[Stage, ...], case: Case, targets: list[Target]) -> list[Verdict]:
    """The verdicts of `stages`, in order, on the event's targets (in target order). Each stage sees
    only the verdicts still "send"; once every target is held, later stages are not asked. An event
    with no targets passes every stage with an empty batch (a run's end is claimed all the same)."""
    for stage in stages:
        stage.observe(case)
    verdicts = [Verdict(t, "send") for t in targets]
    open_ = list(range(len(verdicts)))  # the positions still "send"
    for stage in stages:
        if verdicts and not open_:
            break
        decided = stage.decide(case, [verdicts[i] for i in open_])
        still = []
        for i, v in zip(open_, decided, strict=True):
            verdicts[i] = v
            if v.action == "send":
                still.append(i)
        open_ = still
    for stage in stages:
        stage.after(case, verdicts)
    return verdicts
