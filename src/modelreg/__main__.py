"""``python -m modelreg``: the same command line as the ``modelreg`` script."""

from modelreg.cli import main

if __name__ == "__main__":
    main()
