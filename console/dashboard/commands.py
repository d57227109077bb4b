"""The command palette's entries (ctrl+p): the screens and the quick filters of the queue,
beside Textual's own (theme, quit, keys)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (words shown, the app action it runs).
ENTRIES = (
    ("Overview", "app.show('overview')"),
    ("Alert queue", "app.show('alerts')"),
    ("Collectors' health", "app.show('collectors')"),
    ("Approvals waiting", "app.show('approvals')"),
    ("Read everything again now", "app.refresh_now"),
    ("Help: every key", "app.help"),
)


class DashboardCommands(Provider):
    async def discover(self) -> Hits:
        for words, action in ENTRIES:
            yield DiscoveryHit(words, partial(self.app.run_action, action))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for words, action in ENTRIES:
            score = matcher.match(words)
            if score > 0:
                yield Hit(score, matcher.highlight(words), partial(self.app.run_action, action), text=words)
