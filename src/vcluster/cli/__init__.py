"""The `vcluster` command line."""
