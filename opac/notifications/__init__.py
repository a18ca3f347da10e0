"""Notifications: events that other domains emit (``events.emit``) become an in-app message, an
e-mail in the outbox and Web Push messages, all in the emitter's transaction; ``worker`` sends
the e-mail and push queues. This package sits below circulation and above mail and push."""
