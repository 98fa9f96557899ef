"""The instant the freshness checks judge at: a resource, so tests and replays can pin it."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import ConfigurableResource

from orchestration.calendars import Instant, end_of_day_utc, parse_instant
from orchestration.resources.providers.base import MarketDataProvider


class EvaluationClock(ConfigurableResource):
    """The instant freshness is judged at.

    `as_of` (an ISO timestamp, UTC unless it has an offset) pins it, for tests and replays. Otherwise,
    with `data_end` set, it is the end of the last date the provider holds (a snapshot folder's last
    date, so the bundled sample stays "fresh"), looked up at evaluation time so a broken snapshot fails
    a check rather than the code location; with neither, or a provider that cannot say, it is now.
    """

    as_of: str | None = None
    data_end: bool = False

    def resolve(self, provider: MarketDataProvider | None = None) -> Instant:
        if self.as_of:
            return Instant(parse_instant(self.as_of), f"fixed evaluation time {self.as_of}")
        if self.data_end and provider is not None:
            span = provider.date_range()
            if span is not None:
                return Instant(end_of_day_utc(span[1]), f"end of the snapshot's last date {span[1]}")
        now = datetime.now(UTC).replace(microsecond=0)
        return Instant(now, f"now ({now.isoformat()})")
