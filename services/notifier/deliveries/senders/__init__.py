"""Senders: each takes one rendered message to one channel. `in_app` needs none (the inbox is
the delivery); `email` uses the SMTP server of the settings or of a channel config; chat
channels use the Apprise plugin of their platform."""
