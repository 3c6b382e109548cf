"""The reconciliation engine: informers, queues and one reconcile loop per synced kind."""
