"""An aggregation request as both stores take it, checked once here so that both refuse the same
requests with the same words and read the rest the same way (``store.protocol.Store.aggregate``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from store.protocol import Aggregation, CountRow, Scalar

#: The raw record: every value distinct, and Elasticsearch does not index it at all.
_NOT_GROUPABLE = frozenset({"event.original"})


@dataclass(frozen=True)
class AggregationRequest:
    """A ``Store.aggregate`` request as made: ``checked`` raises ValueError for what neither store
    answers, so a store only has to count."""

    group_by: tuple[str, ...]
    bucket: timedelta | None
    filters: dict[str, tuple[Scalar, ...]]
    max_groups: int

    @classmethod
    def checked(
        cls,
        group_by: Sequence[str],
        bucket: timedelta | None,
        filters: Mapping[str, Sequence[Scalar]] | None,
        max_groups: int,
    ) -> AggregationRequest:
        if isinstance(group_by, str):  # a lone name would be read as its letters
            raise ValueError(f"group_by is a sequence of field names, not the text {group_by!r}")
        texts = [name for name, values in (filters or {}).items() if isinstance(values, str)]
        if texts:
            raise ValueError(f"filters map a field to a sequence of values, not a text: {', '.join(texts)}")
        if max_groups < 1:
            raise ValueError(f"max_groups must be 1 or more, got {max_groups}")
        if bucket is not None and (bucket <= timedelta(0) or bucket.microseconds % 1000):
            # Elasticsearch's date_histogram counts in whole milliseconds.
            raise ValueError(f"bucket must be a positive whole number of milliseconds, got {bucket}")
        request = cls(
            tuple(group_by), bucket, {name: tuple(values) for name, values in (filters or {}).items()}, max_groups
        )
        refused = sorted(_NOT_GROUPABLE.intersection(request.fields))
        if refused:
            raise ValueError(f"cannot count by {', '.join(refused)}: it is the raw record, not a field")
        return request

    @property
    def fields(self) -> list[str]:
        """Every field the request reads, grouped by or filtered on, once each."""
        return list(dict.fromkeys([*self.group_by, *self.filters]))

    @property
    def bucket_micros(self) -> int | None:
        return None if self.bucket is None else self.bucket // timedelta(microseconds=1)

    def refuse_times(self, time_fields: Iterable[str]) -> None:
        """Time fields are counted by ``bucket``: as keys the stores would disagree on their
        precision (Elasticsearch answers milliseconds, the embedded store microseconds)."""
        names = sorted(set(time_fields))
        if names:
            raise ValueError(f"cannot count by the time field(s) {', '.join(names)}: use bucket for time")

    def result(self, rows: list[CountRow]) -> Aggregation:
        """The answer from the rows a store found, asked for one more than ``max_groups`` so that
        one too many says there were more."""
        return Aggregation(self.group_by, self.bucket, rows[: self.max_groups], truncated=len(rows) > self.max_groups)
