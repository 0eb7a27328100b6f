"""HTTP endpoints for senders other than Slack: thin (verify, store, reply)."""
