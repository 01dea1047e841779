"""``python -m modelreg``: the same command line as the ``modelreg`` script (a composition root).

The CLI is an outer layer, so the core reaches it by name, as ``urls.BACKENDS`` reaches the stores.
"""

import importlib

CLI_MODULE = "modelreg.cli"

if __name__ == "__main__":
    importlib.import_module(CLI_MODULE).main()
