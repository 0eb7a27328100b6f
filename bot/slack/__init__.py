"""Every Slack Web API call the bot makes goes through this package."""
