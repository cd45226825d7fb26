"""``python -m advisor`` runs the same CLI as the ``advisor`` console script."""

from advisor.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
