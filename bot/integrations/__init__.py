"""Outbound calls to systems other than Slack."""
