"""Webhooks: event types, signing, the HTTP attempt and the retry schedule."""
