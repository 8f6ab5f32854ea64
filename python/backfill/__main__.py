"""The `backfill` command, installed by the wheel: the same Rust code as the `backfill` binary."""

import sys

from . import _native


def main() -> None:
    raise SystemExit(_native.main(["backfill", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
