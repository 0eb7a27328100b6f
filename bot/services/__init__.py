"""The domain: incident rules and records, with no Slack and no HTTP."""
