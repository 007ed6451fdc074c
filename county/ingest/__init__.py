"""The ingest worker (``worker.Ingest``): shared-subscription consumer, batches, acks after
commit, quarantine, receipts and gaps."""
