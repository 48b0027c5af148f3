"""`python -m alertrouter.cli …`: the same commands as `alertrouter …`."""

from .main import main

main()
