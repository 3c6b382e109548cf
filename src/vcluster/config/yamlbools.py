"""The plain YAML scalars vCluster reads as booleans (go-yaml v2's resolve table, YAML 1.1 style).

vCluster's CLI merges values files with github.com/ghodss/yaml and Helm parses them with
sigs.k8s.io/yaml; both decode with gopkg.in/yaml.v2, whose resolve.go maps exactly these words
(unquoted, case forms as listed, nothing else: no `t`, `1` or `yES`) to true and false.
"""

from __future__ import annotations

import re

BOOL_WORDS: dict[str, bool] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}

BOOL_RE = re.compile("^(?:" + "|".join(sorted(BOOL_WORDS, key=lambda w: (-len(w), w))) + ")$")
BOOL_FIRST_CHARS = sorted({w[0] for w in BOOL_WORDS})
