"""Every shipped rule has test events — some that must raise it, near misses that must not — and
behaves as they say (issue 11, point 5).

Cyberwell's rules keep theirs beside them (rules/cyberwell/tests/<stem>.yaml); the vendored
SigmaHQ rules, which stay byte copies of upstream, keep theirs under rules/tests/sigmahq/. The
events are stored in a fresh embedded store and the rule file is run by the detection engine
(``detections.pack.runner``, what ``cyberwell rules test`` runs), so a failure here is what a user
would see: a rule that stays silent on its own story, or one that fires on the look-alikes.
The format is in detections/pack/runner.py and docs/rules.md. The same events on Elasticsearch:
tests/rules/test_rule_pack.py.
"""

from __future__ import annotations

import pytest

from console.config import DEFAULT_RULE_DIRS
from detections.pack.runner import check_case, pack_cases
from detections.pack.stores import EmbeddedStores

CASES = pack_cases(list(DEFAULT_RULE_DIRS))


@pytest.fixture
def stores():
    factory = EmbeddedStores()
    yield factory
    factory.close()


def test_every_shipped_rule_file_is_in_the_pack():
    names = {case.rule_file.name for case in CASES}
    assert len(CASES) >= 33
    assert {"azure_ad_sign_ins_from_unknown_devices.yml", "net_firewall_cleartext_protocols.yml"} <= names
    assert {"mfa_fatigue.yml", "fortinet_fortigate_new_admin_account_created.yml"} <= names


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule_file.stem)
def test_the_rule_has_test_events_and_behaves_as_they_say(case, stores):
    assert case.events_file is not None, f"{case.rule_file}: no test events in {case.places}"
    result = check_case(case, stores)
    assert result.passed, "\n".join(result.failures)
