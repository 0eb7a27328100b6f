"""The policy: defaults from the SOP, YAML overrides, and clear refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.policy import Policy, default_policy, load_policy, parse_duration
from bot.policy_defaults import default_policy_data


def test_defaults_follow_the_sop() -> None:
    policy = default_policy()
    expected = {
        "sev1": (timedelta(minutes=15), timedelta(hours=4)),
        "sev2": (timedelta(hours=1), timedelta(hours=8)),
        "sev3": (timedelta(hours=4), timedelta(hours=24)),
        "sev4": (timedelta(hours=24), timedelta(hours=72)),
    }
    for key, (respond, resolve) in expected.items():
        assert policy.severity(key).response_target == respond
        assert policy.severity(key).resolution_target == resolve
    assert [s.after for s in policy.severity("sev1").escalation] == [
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=4),
    ]
    assert set(policy.roles) == {
        "commander",
        "technical_lead",
        "communications_lead",
        "business_liaison",
    }


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        ("high", "high", "P1"),
        ("high", "medium", "P2"),
        ("medium", "high", "P2"),
        ("high", "low", "P3"),
        ("medium", "medium", "P3"),
        ("low", "high", "P3"),
        ("medium", "low", "P4"),
        ("low", "medium", "P4"),
        ("low", "low", "P4"),
    ],
)
def test_priority_matrix(impact: str, urgency: str, priority: str) -> None:
    assert default_policy().priority(impact, urgency) == priority


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("4h", 14400), ("1d", 86400), ("1h30m", 5400), (" 2h ", 7200)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [("0m", "zero"), ("-5m", "negative"), ("15", "not a duration"), ("soon", "not a duration")],
)
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_yaml_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "announcement_channel: C0ANNOUNCE\n"
        "contacts:\n  cto: U0CTO\n"
        "severities:\n  sev1:\n    update_interval: 20m\n"
        "categories: [app, infra]\n"
    )
    policy = load_policy(path)
    assert policy.announcement_channel == "C0ANNOUNCE"
    assert policy.severity("sev1").update_interval == timedelta(minutes=20)
    assert policy.severity("sev1").resolution_target == timedelta(hours=4)
    assert policy.contacts["cto"] == "U0CTO"
    assert policy.contacts["it_manager"] is None
    assert policy.categories == ["app", "infra"]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("severities:\n  sev2:\n    update_interval: 0m\n", "severities.sev2.update_interval"),
        ("severities:\n  sev2:\n    update_interval: -1h\n", "negative"),
        (
            "severities:\n  sev2:\n    escalation:\n      - after: 1h\n        notify: [vp]\n",
            "unknown notify target 'vp'",
        ),
        ("colour: red\n", "colour: is not a known key"),
        ("announcement_channel: 'Incidents!'\n", "must be a channel ID such as C0123ABCD or"),
        ("severities:\n  sev2:\n    update_interval: 30s\n", "at least 1m"),
        (
            "severities:\n"
            + "".join(
                f"  s{n}: {{label: S{n}, definition: d, response_target: 1h, "
                "resolution_target: 2h, update_interval: 1h}\n"
                for n in range(8)
            ),
            "severities: Dictionary should have at most 10 items",
        ),
        (
            "categories: [" + ", ".join(f"c{n}" for n in range(101)) + "]\n",
            "categories: List should have at most 100 items",
        ),
        (
            "root_cause_categories: [change, capacity, change, vendor, vendor]\n",
            "root_cause_categories: must be distinct; repeated: 'change', 'vendor'",
        ),
        ("categories: [network, network]\n", "categories: must be distinct; repeated: 'network'"),
        ("root_cause_categories: ['']\n", "root_cause_categories: '' must be 1 to 40 characters"),
        ("- a list\n", "must be a mapping"),
        ("severities: [\n", "not valid YAML"),
        ("priority_matrix:\n  high:\n    high: P9\n", "priority_matrix.high.high"),
        ("notify_via:\n  sev9: [email]\n", "notify_via.sev9: 'sev9' is not a severity"),
        ("notify_via:\n  sev1: [fax]\n", "notify_via.sev1.0"),
        (
            "stakeholders:\n  - {name: execs, severities: [sev7], every: 1h}\n",
            "stakeholders.0.severities: 'sev7' is not a severity",
        ),
        (
            "stakeholders:\n  - {name: execs, severities: [sev1], every: 1m}\n",
            "stakeholders.0.every: must be at least 5m",
        ),
        (
            "stakeholders:\n  - {name: x, severities: [sev1], every: 1h, email: [nope]}\n",
            "'nope' is not an email address",
        ),
        ("status_page:\n  path: /slack\n", "status_page.path: /slack is taken"),
        (
            "status_page:\n  components: [{name: API}, {name: api}]\n",
            "component names must be distinct",
        ),
        ("status_page:\n  approval_severities: [p1]\n", "approval_severities: 'p1'"),
        (
            "status_page:\n  templates:\n    network: 'We are on {{ it'\n",
            "status_page.templates.network: not a valid template",
        ),
        ("email:\n  addresses: {nobody: [a@b.example]}\n", "email.addresses.nobody"),
        ("paging:\n  routing_key: short\n", "paging.routing_key"),
    ],
)
def test_bad_policy_names_path_key_and_problem(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "nope.yml")


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yml"
    good.write_text("contacts:\n  cto: U0CTO\n")
    assert main(["check-config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "no announcement will be made" in out
    named = tmp_path / "named.yml"
    named.write_text("announcement_channel: '#incidents'\n")
    assert main(["check-config", str(named)]) == 0
    assert "announced in #incidents" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text("severities:\n  sev1:\n    response_target: fast\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yml" in err
    assert "severities.sev1.response_target" in err


def test_outward_defaults_follow_the_sop_by_severity_rank() -> None:
    policy = default_policy()
    assert policy.channels("sev1") == ["page", "slack", "email"]
    assert policy.channels("sev4") == ["email"]
    assert policy.needs_approval("sev2") and not policy.needs_approval("sev3")
    assert [(s.name, s.severities, s.every) for s in policy.stakeholders] == [
        ("executives", ["sev1"], timedelta(hours=2)),
        ("business_units", ["sev1", "sev2"], timedelta(hours=4)),
        ("customer_support", ["sev1", "sev2"], timedelta(minutes=30)),
    ]
    # A policy with severities of its own gets the same defaults by rank; what it gives
    # itself stays as given.
    data = default_policy_data()
    data["severities"] = {
        name: {
            "label": name,
            "definition": "d",
            "response_target": "1h",
            "resolution_target": "2h",
            "update_interval": "1h",
        }
        for name in ("critical", "major", "minor")
    }
    data["notify_via"] = {"minor": ["slack"]}
    custom = Policy.model_validate(data)
    assert custom.channels("critical") == ["page", "slack", "email"]
    assert custom.channels("major") == ["slack", "email"]
    assert custom.channels("minor") == ["slack"]
    assert custom.status_page.approval_severities == ["critical", "major"]
    assert [s.severities for s in custom.stakeholders] == [
        ["critical"],
        ["critical", "major"],
        ["critical", "major"],
    ]
