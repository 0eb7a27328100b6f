"""The built-in policy, from the common incident SOP: severity definitions with their response
and resolution targets, update cadence and escalation matrix; roles and their duties;
categories; contacts; the impact-by-urgency priority matrix. A YAML file overrides any of it
(`bot.policy.load_policy`)."""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_PRIORITY_MATRIX: dict[str, dict[str, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P4"},
}


DEFAULT_SEVERITIES: dict[str, dict[str, Any]] = {
    "sev1": {
        "label": "Sev1",
        "definition": "Critical: full outage or data loss for many customers; no workaround.",
        "response_target": "15m",
        "resolution_target": "4h",
        "update_interval": "30m",
        "pir_required": True,
        "escalation": [
            {"after": "30m", "notify": ["it_manager"]},
            {"after": "1h", "notify": ["cto"]},
            {"after": "2h", "notify": ["ceo"]},
            {"after": "4h", "notify": ["board"]},
        ],
    },
    "sev2": {
        "label": "Sev2",
        "definition": "Major: a key feature is down or badly degraded for many users.",
        "response_target": "1h",
        "resolution_target": "8h",
        "update_interval": "1h",
        "pir_required": True,
        "escalation": [
            {"after": "30m", "notify": ["it_manager"]},
            {"after": "2h", "notify": ["cto"]},
            {"after": "4h", "notify": ["cto"]},
        ],
    },
    "sev3": {
        "label": "Sev3",
        "definition": "Minor: partial degradation with a workaround, or few users affected.",
        "response_target": "4h",
        "resolution_target": "24h",
        "update_interval": "4h",
        "escalation": [
            {"after": "1h", "notify": ["it_manager"]},
            {"after": "4h", "notify": ["cto"]},
        ],
    },
    "sev4": {
        "label": "Sev4",
        "definition": "Low: cosmetic or internal issue with no customer impact.",
        "response_target": "24h",
        "resolution_target": "72h",
        "update_interval": "24h",
    },
}


DEFAULT_ROLES: dict[str, dict[str, Any]] = {
    "commander": {
        "name": "Incident Commander",
        "aliases": ["ic", "incident-commander"],
        "duties": "Own the incident end to end: set priorities, delegate, decide, "
        "keep the status updates on cadence, and call resolution.",
    },
    "technical_lead": {
        "name": "Technical Lead",
        "aliases": ["tech-lead", "techlead", "tech", "tl"],
        "duties": "Lead the investigation and the fix: form hypotheses, coordinate "
        "responders, and report findings to the commander.",
    },
    "communications_lead": {
        "name": "Communications Lead",
        "aliases": ["comms-lead", "comms", "cl"],
        "duties": "Write the status updates on cadence, keep stakeholders and "
        "customers informed, and field their questions.",
    },
    "business_liaison": {
        "name": "Business Liaison",
        "aliases": ["liaison", "bl"],
        "duties": "Assess business and customer impact, brief leadership, and "
        "decide on customer-facing commitments.",
    },
}


DEFAULT_CATEGORIES = [
    "software",
    "hardware",
    "network",
    "security",
    "database",
    "infrastructure",
    "third-party",
    "other",
]


DEFAULT_CONTACTS: dict[str, str | None] = {
    "it_manager": None,
    "cto": None,
    "ceo": None,
    "board": None,
}


def default_policy_data() -> dict[str, Any]:
    """The built-in policy as plain data (a copy: changing it changes nothing else)."""
    return copy.deepcopy(
        {
            "announcement_channel": None,
            "severities": DEFAULT_SEVERITIES,
            "categories": DEFAULT_CATEGORIES,
            "roles": DEFAULT_ROLES,
            "contacts": DEFAULT_CONTACTS,
            "priority_matrix": DEFAULT_PRIORITY_MATRIX,
        }
    )
