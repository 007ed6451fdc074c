"""Webhooks told of every alert: a queue in the database, sent with retries and back-off."""
