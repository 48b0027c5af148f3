"""The stages between routing and the outbox. The order is `Pipeline.stages`, and nowhere else:

    (track)    records whether each alert fires, for every event, before anything is decided
    lifecycle  a run's second end notice (RunCompleted after RunStatusChanged(Completed)) is held
    silence    an active silence that matches holds it, naming the silence
    inhibit    a firing alert that inhibits it (per `inhibit_rules`) holds it, naming the alert
    group      on a route with `group_by` it joins a group; the group is notified instead
    window     outside `active_during` / inside `muted_during` windows it waits (pending, due later)
    budget     over its channel's notices-per-minute budget it is folded into one summary per
               minute (pages never are)
    escalate   after the verdicts: an escalating route schedules the alert's escalation

Each stage sees a batch of verdicts still on their way and returns each kept or held with its
reason (stage.py); lifecycle, silence and inhibit hold a whole event, as muters (mutes.py). A held
notification is stored with status `held` and the reason, never sent; `alertrouter outbox list
--status held` and `alertrouter route` show why. `decide(..., apply=False)` is a dry run that
writes nothing. The periodic pass (periodic.py) makes the due group notices, budget summaries and
escalations; acks.py makes acknowledge links and announcements. State lives in the store's
documents, so it survives restarts and is shared by Function instances.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from ..config.load import LoadedConfig
from ..config.types import Target
from ..model import Event
from . import inhibit, silences
from .acks import Acknowledgements
from .mutes import RUN_ENDINGS, Inhibition, RunEnds, Silences, TrackAlerts
from .periodic import PeriodicPass
from .stage import Case, MuteStage, Stage, Verdict, run
from .stages import BudgetStage, EscalationStage, GroupStage, NextFlush, WindowStage

__all__ = ["RUN_ENDINGS", "Pipeline", "Stage", "Verdict"]


class Pipeline:
    """The stages in their order, the periodic pass and the acknowledgements, over one store."""

    def __init__(self, loaded: LoadedConfig, store, ack_secret: bytes | None = None,
                 public_url: str = "http://127.0.0.1:7071"):
        self.loaded = loaded
        self.store = store
        self.inhibitor = inhibit.Inhibitor(loaded.config.inhibit_rules)
        # on a store read over the network, the silences' revision is read once a second, not per event
        reuse = silences.REVISION_REUSE_SECONDS if getattr(store, "remote", False) else 0.0
        self.silences = Silences(silences.Current(store, reuse))
        self.flush = NextFlush()
        self.window = WindowStage(loaded)
        self.stages: tuple[Stage, ...] = (
            TrackAlerts(self.inhibitor, store),
            MuteStage("lifecycle", RunEnds(store)),
            MuteStage("silence", self.silences),
            MuteStage("inhibit", Inhibition(self.inhibitor, store)),
            GroupStage(loaded, store, self.flush),
            self.window,
            BudgetStage(loaded, store),
            EscalationStage(loaded, store),
        )
        self.periodic = PeriodicPass(loaded, store, self.flush)
        self.acks = Acknowledgements(loaded, store, ack_secret, public_url)

    def decide(self, event: Event, targets: list[Target], now: float, apply: bool = True) -> list[Verdict]:
        """What happens to each target (in target order). With apply=False nothing is written
        (for `alertrouter route` and the console's explain)."""
        return run(self.stages, Case(event, now, apply), targets)

    def batch(self) -> AbstractContextManager[None]:
        """Within `with pipeline.batch():`, silences are read once from the store (one intake
        request; a whole replay, whose silences do not change) and each event checks them on its
        own time; outside, every event reads them. Batches nest: the outermost one reads.
        Inhibition reads its index per event."""
        return self.silences.batch()

    # what the hosts read: the dispatcher's next wake-up, the acknowledge settings
    @property
    def next_flush(self) -> float | None:
        return self.flush.at

    @property
    def ack_secret(self) -> bytes | None:
        return self.acks.secret

    @property
    def public_url(self) -> str:
        return self.acks.public_url
