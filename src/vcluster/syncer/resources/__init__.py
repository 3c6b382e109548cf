"""One module per synced resource kind: translation, field directions, sync and status functions."""
