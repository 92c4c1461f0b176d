"""`python -m blocklab.cli`: the same as the `blocklab` command."""
from . import main

main()
