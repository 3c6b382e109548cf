"""vcluster.yaml configuration (issue 5): pydantic models, loading with key-path errors, dumping, reloads.

cfg = load_config(Path("vcluster.yaml"))      # or YAML text, a dict, or None for the defaults
cfg.sync_enabled("ingresses")                  # resolved switches per kind
effective_config_map(cfg, "my-vc", "vc-ns")    # host ConfigMap my-vc-config / config.yaml
diff_config(old, new), hot_reloadable(paths)   # applying an edited ConfigMap
"""

from .errors import ConfigError, ConfigIssue
from .kinds import ALL_KINDS, Direction, config_path
from .loader import (
    CONFIG_MAP_KEY,
    config_from_config_map,
    config_map_name,
    config_values,
    dump_config,
    effective_config_map,
    load_config,
    validate_data,
)
from .models import VClusterConfig, default_values
from .reload import diff_config, hot_reloadable, reload_class, restart_required
from .tolerations import parse_toleration

__all__ = [
    "ALL_KINDS",
    "CONFIG_MAP_KEY",
    "ConfigError",
    "ConfigIssue",
    "Direction",
    "VClusterConfig",
    "config_from_config_map",
    "config_map_name",
    "config_path",
    "config_values",
    "default_values",
    "diff_config",
    "dump_config",
    "effective_config_map",
    "hot_reloadable",
    "load_config",
    "parse_toleration",
    "reload_class",
    "restart_required",
    "validate_data",
]
