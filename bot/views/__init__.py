"""The forms (Slack modals), built by pure functions from the policy and an incident, each
with the function that reads it back when submitted: declaring (`declare_modal`), and the status
update, resolution and hand-over (`forms`)."""
