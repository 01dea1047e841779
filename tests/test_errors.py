"""The exception tree: builtin bases, stable codes, attributes, pickling."""

from __future__ import annotations

import pickle

import pytest

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


def test_every_error_class_of_the_module_is_in_the_derived_table() -> None:
    defined = {value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, errors.RegistryError)}
    assert set(errors.ERROR_CLASSES) == defined
    assert errors.ERROR_CLASSES[0] is errors.RegistryError


def test_a_new_error_class_with_a_code_is_found_by_its_code_without_being_listed() -> None:
    class ProbeError(errors.RegistryError, LookupError):
        code = "probe_for_test_errors"

    assert errors.error_class("probe_for_test_errors") is ProbeError
    assert errors.error_class("version_not_found") is errors.VersionNotFoundError
    assert errors.error_class("no_such_code") is None


def test_two_error_classes_cannot_share_a_code() -> None:
    with pytest.raises(TypeError, match="'duplicate_version' is already DuplicateVersionError's"):
        class Again(errors.RegistryError):
            code = "duplicate_version"


def test_nearest_takes_the_entry_of_the_closest_listed_class_in_the_mro() -> None:
    table: dict[type[BaseException], str] = {errors.StoreError: "store", LookupError: "lookup", ValueError: "value"}

    assert errors.nearest(table, errors.AliasNotFoundError("x"), "none") == "lookup"
    assert errors.nearest(table, errors.MetadataError("x"), "none") == "value"
    assert errors.nearest(table, errors.StoreError("x"), "none") == "store"
    assert errors.nearest(table, errors.VersionInUseError("x"), "none") == "none"
