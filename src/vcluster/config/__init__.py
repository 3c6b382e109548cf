"""vcluster.yaml configuration models (issue 5)."""
