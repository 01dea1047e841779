"""The exception tree: builtin bases, stable codes, attributes, pickling."""

from __future__ import annotations

import pickle

import modelreg
from modelreg import errors


def test_every_error_is_exported_and_has_a_unique_code() -> None:
    codes = [cls.code for cls in errors.ERROR_CLASSES]
    assert len(codes) == len(set(codes))
    for cls in errors.ERROR_CLASSES:
        assert getattr(modelreg, cls.__name__) is cls
        assert issubclass(cls, modelreg.RegistryError)


def test_errors_are_also_fitting_builtins() -> None:
    assert issubclass(modelreg.DuplicateVersionError, ValueError)
    assert issubclass(modelreg.InvalidVersionError, ValueError)
    assert issubclass(modelreg.InvalidNameError, ValueError)
    assert issubclass(modelreg.MetadataError, ValueError)
    assert issubclass(modelreg.VersionNotFoundError, LookupError)
    assert issubclass(modelreg.AliasNotFoundError, LookupError)


def test_errors_carry_their_subject_and_survive_pickling() -> None:
    error = modelreg.DuplicateVersionError("dup", name="m", version="1.0.0")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is modelreg.DuplicateVersionError
    assert (again.name, again.version, str(again)) == ("m", "1.0.0", "dup")


def test_public_api_is_sorted_and_complete() -> None:
    assert modelreg.__all__ == sorted(modelreg.__all__)
    for name in ["ModelRegistry", "ModelMetadata", "MemoryRegistry", "open_registry", "SemVer",
                 "VersionRange", "RegistryEvent", "Subscription"]:
        assert name in modelreg.__all__
