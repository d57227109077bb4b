"""The key bar at the bottom of every screen: one line of text, written again only when the keys
it shows change.

Textual's ``Footer`` removes and mounts one widget per key whenever a screen's bindings *may*
have changed: on every focus move and on every screen shown. On the dashboard that was most of
what opening an alert cost (a screen's six keys torn down and built again on each open, and
built for the first time with a new screen). This bar is one widget whose text is
replaced, so a screen shown or a focus moved costs a comparison. The dashboard is used from the
keyboard, so the keys are shown, not clicked.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget

#: What the bar shows: (key as displayed, label, enabled) for each key, in binding order.
Shown = tuple[tuple[str, str, bool], ...]


def keys_shown(screen: Screen) -> tuple[Shown, tuple[str, str] | None]:
    """The screen's keys to show, and the command palette's key (shown apart, at the end)."""
    keys: list[tuple[str, str, bool]] = []
    palette = None
    seen: set[str] = set()
    palette_key = screen.app.COMMAND_PALETTE_BINDING if screen.app.ENABLE_COMMAND_PALETTE else None
    for key, (_node, binding, enabled, _tooltip) in screen.active_bindings.items():
        if key == palette_key:
            palette = (screen.app.get_key_display(binding), binding.description or "palette")
        elif binding.show and binding.action not in seen:  # one key per action, as Footer does
            seen.add(binding.action)
            keys.append((screen.app.get_key_display(binding), binding.description, enabled))
    return tuple(keys), palette


class KeyBar(Widget):
    COMPONENT_CLASSES = {"keybar--key", "keybar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        & > .keybar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        & > .keybar--disabled { color: $text-disabled; }
    }
    """

    shown: tuple[Shown, tuple[str, str] | None] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._show_keys)

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._show_keys)  # after the focus has settled

    def _show_keys(self) -> None:
        if not self.is_attached:
            return
        shown = keys_shown(self.screen)
        if shown != self.shown:
            self.shown = shown
            self.refresh()

    def render(self) -> Text:
        """Drawn from what is shown, with the theme's styles of the moment (a theme change redraws).
        The palette's key keeps the right end; the screen's keys are cut before it when too many."""
        keys, palette = self.shown or ((), None)
        key_style = self.get_component_rich_style("keybar--key")
        disabled = self.get_component_rich_style("keybar--disabled")
        out = Text(no_wrap=True, overflow="ellipsis")
        for key, label, enabled in keys:
            out.append(f" {key} ", key_style if enabled else disabled)
            out.append(f"{label} ", "" if enabled else disabled)
        if palette is None:
            return out
        end = Text("▏")
        end.append(f"{palette[0]} ", key_style)
        end.append(f"{palette[1]} ")
        out.truncate(max(0, self.size.width - end.cell_len), overflow="ellipsis", pad=True)
        return out + end
