"""A council's ordinary week of Entra ID sign-ins.

Ordinary means: every sign-in from Great Britain (the offices' egress addresses in working
hours, people's home broadband otherwise), only modern clients, compliant managed devices, MFA
required of everyone (Conditional Access policy CA001) and satisfied by Windows Hello or the
authenticator app,
and the odd mistyped password or declined MFA prompt spread thinly and singly over people and
days. Those rare failures are drawn per person per day, not per event, so their density stays
the same at any scenario size and never looks like a spray or an MFA-fatigue attack.
"""

from __future__ import annotations

import random

from scenario.week.events import SignIn
from scenario.week.timeline import HOUR_MS, Window, draw_times, is_working_time
from scenario.world.draws import Weighted, guid, rng_for
from scenario.world.tenant import Tenant, User
from scenario.world.vocabulary import (
    APPS,
    BROWSER,
    CA_BLOCK_LEGACY,
    CA_COMPLIANT_DEVICE,
    CA_REQUIRE_MFA,
    DESKTOP_APP_WEIGHTS,
    INVALID_PASSWORD,
    KMSI_INTERRUPT,
    MFA_DENIED,
    MFA_REQUIRED,
    MOBILE_APP_WEIGHTS,
    SUCCESS,
    SUCCESS_MFA,
    App,
)

#: Chance that a given person mistypes their password once on a working day.
TYPO_PER_PERSON_DAY = 0.03
#: Chance that a given person declines one MFA prompt by mistake on a working day.
MFA_SLIP_PER_PERSON_DAY = 0.003
#: Share of interactive sign-ins interrupted (MFA step-up from home; "keep me signed in").
MFA_REQUIRED_SHARE = 0.015
KMSI_SHARE = 0.02


def _apps(weights: dict[str, int], mobile: bool) -> Weighted[App]:
    chosen = [a for a in APPS if a.name in weights and a.mobile == mobile]
    return Weighted(chosen, [weights[a.name] for a in chosen])


class NormalSignIns:
    """Draws one day of ordinary sign-ins at a time (a day is the unit the writers stream)."""

    def __init__(self, tenant: Tenant, window: Window, seed: int):
        self.tenant = tenant
        self.window = window
        self.seed = seed
        self.people = Weighted(tenant.users, [u.activity for u in tenant.users])
        self.desktop_apps = _apps(DESKTOP_APP_WEIGHTS, mobile=False)
        it_weights = dict(DESKTOP_APP_WEIGHTS, **{"Azure Portal": 6})
        self.it_apps = _apps(it_weights, mobile=False)
        self.mobile_apps = _apps(MOBILE_APP_WEIGHTS, mobile=True)
        # Looked up per sign-in, so worked out once: each person's phone or tablet, if any.
        self.mobile_device = [next((d for d in u.devices if d.kind in ("phone", "tablet")), None) for u in tenant.users]
        self.working_hour: dict[int, bool] = {}
        self.ca: dict[tuple[str, bool], tuple] = {}

    def rare_failures(self, day: int) -> list[SignIn]:
        """The day's mistyped passwords and declined prompts, each followed by the person's retry."""
        if self.window.weekday(day) >= 5:
            return []
        rng = rng_for(self.seed, f"normal-signins-rare-{day}")
        out: list[SignIn] = []
        day_end = self.window.day_start_ms(day + 1)
        for user in self.tenant.users:
            if rng.random() < TYPO_PER_PERSON_DAY:
                ms = draw_times(rng, self.window, day, 1)[0]
                out.extend(self._failure_then_retry(rng, user, ms, INVALID_PASSWORD, day_end))
            if rng.random() < MFA_SLIP_PER_PERSON_DAY:
                ms = draw_times(rng, self.window, day, 1)[0]
                # MFA is only asked for away from the offices, so a declined prompt happens at home.
                out.extend(self._failure_then_retry(rng, user, ms, MFA_DENIED, day_end, where="home"))
        return out

    def day(self, day: int, count: int) -> list[SignIn]:
        """``count`` ordinary sign-ins on ``day`` (0-based), in time order."""
        rng = rng_for(self.seed, f"normal-signins-{day}")
        times = draw_times(rng, self.window, day, count)
        users = self.people.sample(rng, count)
        return [self._sign_in(rng, user, ms) for user, ms in zip(users, times, strict=True)]

    def _sign_in(
        self,
        rng: random.Random,
        user: User,
        ms: int,
        result=None,
        where: str | None = None,
        interactive: bool | None = None,
        app: App | None = None,
        device=None,
    ) -> SignIn:
        """One sign-in; ``where`` ("office"/"home") is drawn from the time of day when not given."""
        rand = rng.random
        if where is None:
            office_share = 0.3 if user.is_councillor else 0.75
            where = "office" if self._working(ms) and rand() < office_share else "home"
        if device is None:
            device = user.primary
            phone = self.mobile_device[user.index]
            if phone is not None and phone is not device and rand() < 0.25:
                device = phone
        if app is None:
            app = self._app_pool(user, device).pick(rng)
        if interactive is None:
            interactive = rand() < app.interactive_share
        if result is None:
            # CA001 asks everyone for MFA; Windows Hello and the phone's authenticator satisfy it, so
            # the token carries the claim and most sign-ins never prompt.
            result = SUCCESS_MFA if interactive else SUCCESS
            if interactive:
                r = rand()
                if r < MFA_REQUIRED_SHARE and where == "home":
                    result = MFA_REQUIRED
                elif r < MFA_REQUIRED_SHARE + KMSI_SHARE:
                    result = KMSI_INTERRUPT
        browser = app.client_app == BROWSER
        if where == "office":
            ip, place, named = device.site.egress_ip, device.site.place, device.site.named_location
        else:
            ip, place, named = user.home_ip, user.home, None
        ca_mfa = "success" if result.code == 0 else ("failure" if result is MFA_DENIED else "notApplied")
        ca = self.ca.get((ca_mfa, browser))
        if ca is None:
            ca = self.ca[(ca_mfa, browser)] = (
                (CA_REQUIRE_MFA, ca_mfa),
                (CA_COMPLIANT_DEVICE, "notApplied" if browser else "success"),
                (CA_BLOCK_LEGACY, "notApplied"),
            )
        # Positional: this runs for most of a million events, and keyword construction is slower.
        return SignIn(
            ms,
            guid(rng),
            guid(rng),
            user,
            app.app_id,
            app.name,
            app.resource,
            ip,
            place,
            device.detail_browser if browser else device.detail_client,
            app.client_app,
            result,
            interactive,
            True,
            named,
            ca,
            device.browser_ua if browser else device.client_ua,
        )

    def _working(self, ms: int) -> bool:
        hour = ms // HOUR_MS
        working = self.working_hour.get(hour)
        if working is None:
            working = self.working_hour[hour] = is_working_time(self.window, hour * HOUR_MS)
        return working

    def _app_pool(self, user: User, device) -> Weighted[App]:
        if device.kind in ("phone", "tablet"):
            return self.mobile_apps
        return self.it_apps if user.department.name == "IT" else self.desktop_apps

    def _failure_then_retry(
        self, rng: random.Random, user: User, ms: int, failure, day_end: int, where: str | None = None
    ) -> list[SignIn]:
        """A failed interactive sign-in and, seconds later, the same person getting it right."""
        device = user.primary
        app = self._app_pool(user, device).pick(rng)
        first = self._sign_in(rng, user, ms, result=failure, where=where, interactive=True, app=app, device=device)
        where = "home" if first.named_location is None else "office"
        retry_ms = min(ms + rng.randrange(15_000, 120_000), day_end - 1)
        retry = self._sign_in(
            rng, user, retry_ms, result=SUCCESS_MFA, where=where, interactive=True, app=app, device=device
        )
        return [first, retry]
