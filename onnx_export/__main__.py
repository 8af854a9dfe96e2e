"""``python -m onnx_export METHOD --checkpoint CKPT --out DIR``: same as ``colorize export``."""

import argparse
import sys

from onnx_export import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onnx_export", description=cli.DESCRIPTION)
    cli.configure_parser(parser)
    return cli.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
