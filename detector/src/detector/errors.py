"""The detector's errors; each carries the exit status the command line ends with.

```
DetectorError                 exit 1: a detection run could not be done
 ├── ConfigError              exit 2: the configuration is missing, invalid or contradictory
 │    └── ProjectNotFound     exit 2: no fitted project of that name in the artifacts
 ├── DataError                exit 1: data unreadable, columns missing, wrong types, empty batch
 ├── ArtifactError            exit 1: the stored profile cannot be read or written
 └── PluginError              exit 1: a plug-in detector broke its contract
```

Errors of the drift-monitor client (server unreachable with DRIFT_MONITOR_STRICT, 401, 403,
unknown experiment) are not wrapped: they already say what to fix.
"""

from __future__ import annotations

__all__ = ["ArtifactError", "ConfigError", "DataError", "DetectorError", "PluginError", "ProjectNotFound"]


class DetectorError(Exception):
    exit_code = 1


class ConfigError(DetectorError):
    exit_code = 2


class ProjectNotFound(ConfigError):
    pass


class DataError(DetectorError):
    pass


class ArtifactError(DetectorError):
    pass


class PluginError(DetectorError):
    pass
