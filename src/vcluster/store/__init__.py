"""Storage: the kine-layout log, the in-memory live view and watch fan-out."""
