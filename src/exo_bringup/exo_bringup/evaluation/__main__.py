"""``python -m exo_bringup.evaluation``: the ``exo_eval`` console script."""

from exo_bringup.evaluation.cli import main

raise SystemExit(main())
