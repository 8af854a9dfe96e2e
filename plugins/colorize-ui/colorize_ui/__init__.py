"""``colorize ui``: a local web page for the toolkit (needs the ``[ui]`` extra).

One command starts a small Starlette application (:mod:`colorize_ui.app`) under uvicorn on
``127.0.0.1`` and prints its address. The page opens a photo (file picker, drag and drop,
or the bundled example photo), colorizes it with any installed method (decoder, reference
photo, seed, diverse samples), shows the result beside the input with a before/after
slider and the uncertainty map where the method has one, takes colour hints by clicking
on the photo (:mod:`core.hints`), and downloads the full-resolution PNG.

Only this machine can reach the page unless ``--host`` says otherwise (e.g. ``--host
0.0.0.0`` for every network interface): the page has no authentication, and anyone who
reaches it can make the machine colorize photos.
"""

from __future__ import annotations

import argparse
import socket
import sys
import webbrowser

__all__ = ["configure_parser", "run", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


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
        "--max-upload-mib",
        type=float,
        default=200.0,
        metavar="MIB",
        help="largest photo the page accepts (default 200 MiB)",
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
) -> int:
    """Run the page until interrupted; prints ``colorize ui: serving on URL`` first.

    The socket is bound before the address is printed, so ``--port 0`` prints the port
    it got, and a reader of the first line can connect at once.
    """
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
    app = create_app(max_upload_bytes=int(max_upload_mib * (1 << 20)))
    print(f"colorize ui: serving on {url} (Ctrl+C stops it)", flush=True)
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
    return serve(args.host, args.port, open_browser=args.open, max_upload_mib=args.max_upload_mib)
