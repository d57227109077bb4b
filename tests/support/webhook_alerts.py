"""Alerts for the webhook tests: a plain builder and a hypothesis strategy over every field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from store.state.alert_record import SEVERITIES, Alert

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def alert(n: int, severity: str = "high", events: int = 3, rule: str = "r-1", tags: list[str] | None = None) -> Alert:
    """Alert number ``n``: its own user, ``events`` events from ``e<n>-0`` on."""
    return Alert.build(
        rule_id=rule,
        rule_title=f"Rule {rule}",
        severity=severity,
        tags=tags if tags is not None else ["attack.credential_access", "attack.t1110.003"],
        group_keys={"user.name": f"user{n}@council.gov.uk"},
        window_start=T0,
        first_seen=T0 + timedelta(minutes=n % 50),
        last_seen=T0 + timedelta(minutes=n % 50 + events),
        event_ids=[f"e{n}-{i}" for i in range(events)],
    )


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_TAGS = st.lists(
    st.one_of(
        st.sampled_from(["attack.t1110", "attack.t1078.004", "attack.initial_access", "attack.impact", "attack.g0016"]),
        _TEXT,
    ),
    max_size=6,
)


@st.composite
def alerts(draw) -> Alert:
    first = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)))
    ids = draw(st.lists(_TEXT.filter(bool), max_size=40, unique=True))
    built = Alert.build(
        rule_id=draw(_TEXT.filter(str.strip)),
        rule_title=draw(_TEXT),
        severity=draw(st.sampled_from(SEVERITIES)),
        tags=draw(_TAGS),
        group_keys=draw(st.dictionaries(_TEXT.filter(bool), st.one_of(st.none(), _TEXT), max_size=4)),
        window_start=first,
        first_seen=first,
        last_seen=first + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))),
        event_ids=ids,
        event_count=len(ids) + draw(st.integers(0, 10**6)),
    )
    built.status = draw(st.sampled_from(["new", "acknowledged", "closed"]))
    built.sequence = draw(st.integers(1, 2**40))
    built.updated_at = built.last_seen
    return built
