"""The ``modelreg`` command line (needs the ``cli`` or ``server`` extra, which bring click).

This module imports no third-party package, so ``main()`` can say what to install
when click is missing instead of failing with a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_MISSING_CLICK = (
    "modelreg: the command line needs the 'click' package, which is not installed; "
    "install it with: pip install 'modelreg[cli]'"
)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and exit."""
    try:
        import click  # noqa: F401
    except ImportError:
        print(_MISSING_CLICK, file=sys.stderr)
        raise SystemExit(2) from None
    from .app import cli

    cli.main(args=list(argv) if argv is not None else None, prog_name="modelreg")
