"""The gateway process: LiteLLM's own command line, with our edge (maximus.gateway_edge) installed on its app.

`maximus serve litellm` replaces itself with `python -m maximus.gateway --config ...`. LiteLLM's CLI serves
`litellm.proxy.proxy_server:app` by import path; with one worker that is the module already imported here, so
the app it serves is the one the edge was added to (`--num_workers 1` is passed for that reason).
"""

from __future__ import annotations

from litellm.proxy.proxy_cli import run_server
from litellm.proxy.proxy_server import app

from maximus.gateway_edge import install


def main() -> None:
    install(app)
    run_server()  # a click command: reads sys.argv


if __name__ == "__main__":
    main()
