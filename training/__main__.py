"""``python -m training METHOD --data DIR``: same as ``colorize train``."""

import argparse
import sys

from training import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=cli.DESCRIPTION)
    cli.configure_parser(parser)
    return cli.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
