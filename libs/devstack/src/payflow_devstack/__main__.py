"""`python -m payflow_devstack run`: the whole system on embedded stores, in the foreground."""

from __future__ import annotations

import sys

from payflow_devstack.supervisor import run


def main(argv: list[str]) -> int:
    if argv[:1] != ["run"]:
        print("usage: python -m payflow_devstack run", file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
