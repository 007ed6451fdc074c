"""The county desk's reads and writes: alerts, fleet, ledgers (the web and notifier use them)."""
