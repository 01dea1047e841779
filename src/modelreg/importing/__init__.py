"""Importers that bring another registry's models over: ``import_mlflow`` (docs/migrate-from-mlflow.md).

This layer reads the other registry through its own client, imported lazily (so
``import modelreg`` never pulls it in), and writes through the ``ModelRegistry``
interface only, so an import works into every backend.
"""

from ._mapping import VersionMap, parse_param
from ._report import AliasOutcome, ImportReport, ModelOutcome, VersionOutcome
from ._run import ImportInterrupted, Progress, import_mlflow
from ._source import SourceError

__all__ = [
    "AliasOutcome",
    "ImportInterrupted",
    "ImportReport",
    "ModelOutcome",
    "Progress",
    "SourceError",
    "VersionMap",
    "VersionOutcome",
    "import_mlflow",
    "parse_param",
]
