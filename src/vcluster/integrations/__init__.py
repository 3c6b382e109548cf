"""vCluster's integrations with software running in the host cluster (`integrations:` of vcluster.yaml)."""
