"""``colorize ui``: a local web page for the toolkit (needs the ``[ui]`` extra).

One command starts a small Starlette application (:mod:`colorize_ui.app`) under uvicorn on
``127.0.0.1`` and prints its address. The page opens a photo (file picker, drag and drop,
or the bundled example photo), colorizes it with any installed method (decoder, reference
photo, seed, diverse samples), shows the result beside the input with a before/after
slider and the uncertainty map where the method has one, shows the colours the method
finds likely where the photo is clicked and places the one picked as a colour hint
(:mod:`core.hints`), and downloads the full-resolution PNG.

Only this machine can reach the page unless ``--host`` says otherwise (e.g. ``--host
0.0.0.0`` for every network interface): the page has no authentication, and anyone who
reaches it can make the machine colorize photos. It answers only requests addressed to
the address it serves and sent by its own page (``Host`` and ``Origin``,
:mod:`colorize_ui.guard`; ``--allow-host`` adds names).

Its memory stays within a budget for the whole process (:mod:`colorize_ui.budget`):
``--memory-mib`` or the environment variable ``COLORIZE_UI_MEMORY_MIB``, by default a
quarter of the memory available when it starts (at least 1 GiB). Photos over
``--max-megapixels`` (default 50) or ``--max-upload-mib`` (default 200), and work that
could never fit in the budget, are refused with status 413 and a message naming the
limit; at most ``--jobs`` (default 2) decodings, colorizations or PNG writes run at once.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import webbrowser

__all__ = ["configure_parser", "run", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Environment variable of the memory budget in MiB (``--memory-mib`` takes precedence).
MEMORY_ENV = "COLORIZE_UI_MEMORY_MIB"


def _positive(kind: type) -> object:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize ui``."""
    parser.description = (
        "Start a local web page: open a photo, choose a method, place colour hints, "
        "download the result."
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; "
        "0.0.0.0 opens the page to every network interface, without authentication)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--open", action="store_true", help="also open the page in the default web browser"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to NAME (a host name of this machine; "
        "repeatable). Requests naming another host, or sent by another web site, get 403",
    )
    parser.add_argument(
        "--max-upload-mib",
        type=_positive(float),
        default=200.0,
        metavar="MIB",
        help="largest photo file the page accepts (default 200 MiB)",
    )
    parser.add_argument(
        "--max-megapixels",
        type=_positive(float),
        default=50.0,
        metavar="MP",
        help="most pixels of one photo, in millions (default 50)",
    )
    parser.add_argument(
        "--memory-mib",
        type=_positive(float),
        default=None,
        metavar="MIB",
        help=f"memory budget of the page's process: cached results and running work are "
        f"kept within it (default ${MEMORY_ENV}, else a quarter of the memory available "
        "at start, at least 1024)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive(int),
        default=2,
        metavar="N",
        help="decodings, colorizations and PNG writes run at once (default 2)",
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _address(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    open_browser: bool = False,
    max_upload_mib: float = 200.0,
    max_megapixels: float = 50.0,
    memory_mib: float | None = None,
    jobs: int = 2,
    allow_hosts: tuple[str, ...] = (),
) -> int:
    """Run the page until interrupted; prints ``colorize ui: serving on URL`` first.

    The socket is bound before the address is printed, so ``--port 0`` prints the port
    it got, and a reader of the first line can connect at once. ``memory_mib`` None
    reads ``COLORIZE_UI_MEMORY_MIB``, else takes the default budget.
    """
    if memory_mib is None and os.environ.get(MEMORY_ENV, "").strip():
        text = os.environ[MEMORY_ENV].strip()
        try:
            memory_mib = float(text)
        except ValueError:
            memory_mib = -1.0
        if not memory_mib > 0:
            print(f"colorize ui: {MEMORY_ENV}={text!r}: expected a number of MiB > 0",
                  file=sys.stderr)  # fmt: skip
            return 2
    try:
        import uvicorn

        from colorize_ui.app import create_app
    except ImportError as exc:
        print(
            f"colorize ui: unavailable ({exc}); install the extra with "
            "`pip install 'colorize-toolkit[ui]'`",
            file=sys.stderr,
        )
        return 2
    try:
        sock = _bind(host, port)
    except OSError as exc:
        print(
            f"colorize ui: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    url = _address(sock, host)
    app = create_app(
        host=host,
        port=sock.getsockname()[1],
        allow_hosts=tuple(allow_hosts),
        max_upload_bytes=int(max_upload_mib * (1 << 20)),
        max_pixels=int(max_megapixels * 1e6),
        memory_budget=None if memory_mib is None else int(memory_mib * (1 << 20)),
        jobs=jobs,
    )
    budget = app.state.ui.budget.limit >> 20
    print(f"colorize ui: serving on {url} (Ctrl+C stops it; memory budget {budget} MiB)",
          flush=True)  # fmt: skip
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"colorize ui: listening on {host}: other machines can reach this page "
            "(it has no authentication)",
            file=sys.stderr,
            flush=True,
        )
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        app.state.ui.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``colorize ui``."""
    return serve(
        args.host,
        args.port,
        open_browser=args.open,
        max_upload_mib=args.max_upload_mib,
        max_megapixels=args.max_megapixels,
        memory_mib=args.memory_mib,
        jobs=args.jobs,
        allow_hosts=tuple(args.allow_host),
    )
