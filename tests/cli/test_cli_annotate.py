"""``modelreg annotate`` and ``modelreg model show|annotate|delete`` against real SQLite files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from support.clirun import json_out, ok, run


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A fresh SQLite registry file holding resnet50 1.0.0 (top1 0.76, tag wip) and 2.0.0."""
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    ok(url, "register", "resnet50", "1.0.0", "--artifact", "s3://r/1", "--metric", "top1=0.76", "--tag", "wip=yes",
       "--param", "lr=0.01", "--trained-at", "2026-01-05")  # fmt: skip
    ok(url, "register", "resnet50", "2.0.0", "--artifact", "s3://r/2")
    return url




def fails(url: str, *args: str, code: int) -> str:
    """Run a command that must fail with ``code`` and print nothing on stdout; return stderr."""
    result = run(url, *args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    return result.stderr


def kinds(url: str) -> list[str]:
    return [event["kind"] for event in json_out(url, "history", "resnet50")]


# -- annotate -----------------------------------------------------------------------------------


def test_annotate_changes_description_and_tags_adds_metrics_and_prints_the_metadata_as_show(url: str) -> None:
    ok(url, "alias", "set", "resnet50", "production", "1.0.0")
    result = ok(url, "annotate", "resnet50", "v1.0.0", "--description", "Fine-tuned on ImageNet-V2",
                "--tag", "team=vision", "--untag", "wip", "--metric", "imagenet_v2_top1=0.69")  # fmt: skip
    assert result.stdout == ok(url, "show", "resnet50", "1.0.0").stdout  # the new metadata, in show's layout
    shown = json_out(url, "show", "resnet50", "1.0.0")
    assert shown["aliases"] == ["production"]
    metadata = shown["metadata"]
    assert metadata["description"] == "Fine-tuned on ImageNet-V2"
    assert metadata["tags"] == {"team": "vision"}
    assert metadata["performance_metrics"] == {"top1": 0.76, "imagenet_v2_top1": 0.69}
    assert (metadata["hyperparameters"], metadata["artifact_path"]) == ({"lr": 0.01}, "s3://r/1")  # facts stay
    assert kinds(url)[-1] == "annotated"


def test_annotate_json_is_shaped_as_show(url: str) -> None:
    doc = json_out(url, "annotate", "resnet50", "2.0.0", "--tag", "team=vision")
    assert doc == json_out(url, "show", "resnet50", "2.0.0")
    assert doc["metadata"]["tags"] == {"team": "vision"}


def test_annotate_without_any_change_is_a_usage_error_and_writes_nothing(url: str) -> None:
    before = kinds(url)
    stderr = fails(url, "annotate", "resnet50", "1.0.0", code=2)
    assert "--description, --tag, --untag, --metric" in stderr
    assert kinds(url) == before


def test_changing_a_recorded_metric_exits_5_saying_what_to_do_and_changes_nothing(url: str) -> None:
    before = json_out(url, "show", "resnet50", "1.0.0")
    stderr = fails(url, "annotate", "resnet50", "1.0.0", "--metric", "top1=0.9", "--description", "x", code=5)
    (line,) = stderr.splitlines()
    assert line.startswith("error: ") and "top1" in line and "new version" in line
    assert json_out(url, "show", "resnet50", "1.0.0") == before


def test_annotate_of_a_missing_version_exits_3(url: str) -> None:
    assert fails(url, "annotate", "resnet50", "9.9.9", "--tag", "a=b", code=3).startswith("error: ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--tag", "team"), "not KEY=VALUE"),
        (("--metric", "loss=abc"), "finite numbers"),
        (("--tag", "a=1", "--tag", "a=2"), "more than once"),
    ],
)
def test_bad_annotation_options_are_usage_errors(url: str, args: tuple[str, ...], words: str) -> None:
    before = kinds(url)
    assert words in fails(url, "annotate", "resnet50", "1.0.0", *args, code=2)
    assert kinds(url) == before


# -- model show / annotate ----------------------------------------------------------------------


def test_model_show_prints_the_record_with_count_latest_and_aliases(url: str) -> None:
    ok(url, "alias", "set", "resnet50", "production", "1.0.0")
    doc = json_out(url, "model", "show", "resnet50")
    assert {k: doc[k] for k in ("name", "description", "tags", "version_count", "latest", "aliases")} == {
        "name": "resnet50", "description": "", "tags": {}, "version_count": 2, "latest": "2.0.0",
        "aliases": {"production": "1.0.0"},
    }  # fmt: skip
    assert datetime.fromisoformat(doc["created_at"]) <= datetime.fromisoformat(doc["updated_at"])
    lines = ok(url, "model", "show", "resnet50").stdout.splitlines()
    for expected in ("name:        resnet50", "versions:    2", "latest:      2.0.0", "  production  1.0.0"):
        assert expected in lines, (expected, lines)


def test_model_show_of_an_unknown_model_exits_3(url: str) -> None:
    assert fails(url, "model", "show", "nosuch", code=3).startswith("error: ")


def test_model_annotate_describes_and_tags_the_model_and_prints_its_record(url: str) -> None:
    doc = json_out(url, "model", "annotate", "resnet50", "--description", "ImageNet classifiers",
                   "--tag", "owner=vision", "--tag", "tier=1")  # fmt: skip
    assert (doc["description"], doc["tags"]) == ("ImageNet classifiers", {"owner": "vision", "tier": "1"})
    doc = json_out(url, "model", "annotate", "resnet50", "--untag", "tier")
    assert doc["tags"] == {"owner": "vision"} and doc == json_out(url, "model", "show", "resnet50")
    assert "description: ImageNet classifiers" in ok(url, "model", "show", "resnet50").stdout
    assert kinds(url)[-2:] == ["model_annotated", "model_annotated"]


def test_model_annotate_without_any_change_is_a_usage_error(url: str) -> None:
    assert "--description, --tag, --untag" in fails(url, "model", "annotate", "resnet50", code=2)


# -- model delete -------------------------------------------------------------------------------


def test_model_delete_is_refused_while_aliases_exist_unless_forced(url: str) -> None:
    ok(url, "alias", "set", "resnet50", "production", "2.0.0")
    (line,) = fails(url, "model", "delete", "resnet50", code=4).splitlines()
    assert line.startswith("error: ") and "--force" in line and "force=True" not in line
    assert json_out(url, "versions", "resnet50")["versions"] == ["1.0.0", "2.0.0"]  # nothing removed
    result = ok(url, "model", "delete", "resnet50", "--force")
    assert result.stdout == "deleted model resnet50 and its 2 versions\n"
    assert json_out(url, "models") == []
    assert sorted(kinds(url)[-3:]) == ["alias_removed", "unregistered", "unregistered"]  # one event each


def test_model_delete_without_aliases_needs_no_force_and_says_so_in_json(url: str) -> None:
    assert json_out(url, "model", "delete", "resnet50") == {"name": "resnet50", "deleted": True, "versions": 2}
    assert fails(url, "model", "delete", "resnet50", code=3).startswith("error: ")  # nothing left to delete


def test_model_delete_help_says_it_removes_every_version_without_asking() -> None:
    text = " ".join(ok(None, "model", "delete", "--help").stdout.split())
    assert "EVERY version" in text and "does not ask for confirmation" in text
