"""``python -m research claims | sweep | curves ...`` (the ViT claims tables and the architecture sweeps).

From outside the repository, run ``python PATH/TO/REPO/research ...`` (or set ``PYTHONPATH`` to the
repository root): every command finds its configs and ``main.py`` from any directory.
"""
from __future__ import annotations

import argparse
import os
import sys

if not __package__:  # run as a folder or file (python path/to/research): make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from research import claims, compare  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m research", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    claims.register(subparsers)
    compare.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a missing file or a bad value prints one ``error:`` line and returns 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
