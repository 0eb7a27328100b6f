"""Flows: domain services and Slack effects put together, one step at a time."""
