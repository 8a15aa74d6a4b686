"""Entry point of `python -m mnist_core`."""

import sys

from .cli import main

sys.exit(main())
