"""``python -m exo_experiments.evaluation``: the ``exo_eval`` console script."""

from exo_experiments.evaluation.cli import main

raise SystemExit(main())
