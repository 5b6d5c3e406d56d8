"""The gateway process: LiteLLM's own command line, with our edge (maximus.gateway_edge) installed on its app.

`maximus serve litellm` replaces itself with `python -m maximus.gateway --config ...`. LiteLLM's CLI serves
`litellm.proxy.proxy_server:app` by import path; with one worker that is the module already imported here, so
the app it serves is the one the edge was added to (`--num_workers 1` is passed for that reason).

Several such processes serve one port (MAXIMUS_GATEWAY_PROCESSES): LiteLLM's CLI calls `uvicorn.run`, which is
replaced here by a server on a socket bound with SO_REUSEPORT (maximus.shared_port).
"""

from __future__ import annotations

from typing import Any

import uvicorn
from litellm.proxy.proxy_cli import run_server
from litellm.proxy.proxy_server import app

from maximus.gateway_edge import install
from maximus.shared_port import bound_socket


def run_on_shared_port(app: Any, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """uvicorn.run's signature, on a port other gateway processes may share."""
    if workers != 1:
        raise SystemExit("the gateway runs one uvicorn worker a process: set MAXIMUS_GATEWAY_PROCESSES instead")
    sock = bound_socket(host, port)
    config = uvicorn.Config(app, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    install(app)
    uvicorn.run = run_on_shared_port  # LiteLLM's CLI looks it up on the module when it starts the server
    run_server()  # a click command: reads sys.argv


if __name__ == "__main__":
    main()
