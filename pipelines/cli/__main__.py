"""`python -m pipelines.cli`: the same command line as `mira`."""
from pipelines.cli.app import main

main()
