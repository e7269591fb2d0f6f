"""clm: customer lifecycle management from a company's own customer data.

The package is layered (see ``pyproject.toml`` [tool.importlinter]): ``cli`` over ``services``
over ``analytics | store | ingest`` over ``warehouse`` over ``config | domain`` over ``errors``.
Nothing runs at import time.
"""

__version__ = "0.1.0"
