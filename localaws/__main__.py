"""``python -m localaws serve [--host 127.0.0.1] [--port 4566]``: serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from localaws.server import LocalAWS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the AWS APIs until SIGINT or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=4566, help="port to listen on, 0 for any free one (default 4566)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("localaws").info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with LocalAWS(host=args.host, port=args.port) as aws:
        print(f"localaws ready at {aws.endpoint_url} (health: {aws.endpoint_url}/_localaws/health)", flush=True)
        stop_requested.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
