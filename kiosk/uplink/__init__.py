"""Store-and-forward uplink: drains the ledger's outbox to the county MQTT broker."""
