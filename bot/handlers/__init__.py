"""Bolt listeners: thin (ack, parse, call a service, render, reply)."""
