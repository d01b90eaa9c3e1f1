"""`python -m infra.cli`: the care-episodes command line."""

from infra.cli.main import main

main()
