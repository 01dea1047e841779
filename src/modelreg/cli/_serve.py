"""``modelreg serve``: run the HTTP server over a registry URL."""

from __future__ import annotations

from pathlib import Path

import click

from .._config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_PORT,
)
from ._context import CliFailure, Session, pass_session

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port; 0 picks a free one (the log says which).",
)
@click.option(
    "--tokens-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Bearer tokens and their roles (read, write, admin); without tokens only loopback is served.",
)
@click.option("--insecure", is_flag=True, help="Allow a non-loopback address without any tokens configured.")
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BODY_BYTES,
    show_default=True,
    help="Refuse request bodies larger than this, before parsing them.",
)
@click.option(
    "--store-timeout",
    type=click.FloatRange(min=0.001),
    help="Seconds a write may take end to end before it fails with 503 [sqlite/postgresql default: 5]; "
    "keep it below the clients' timeout (15 s by default).",
)
@click.option("--no-access-log", is_flag=True, help="Do not log one line per request.")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this PEM certificate (chain); the key may be in the same file.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The PEM private key of --tls-cert.",
)
@click.option(
    "--behind-tls-proxy",
    is_flag=True,
    help="Serve plain HTTP on a non-loopback address because a TLS-terminating proxy is in front.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0, min_open=True, max=86400, max_open=True),
    default=DEFAULT_HEADER_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection that has not sent a request's complete headers within this.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0, min_open=True, max=86400, max_open=True),
    default=DEFAULT_BODY_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Abandon a request (408) whose body has not fully arrived within this after its headers.",
)
@click.option(
    "--max-header-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_HEADER_BYTES,
    show_default=True,
    help="Refuse (431) a request whose request line and headers are larger than this.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    help="Connections held at once [default: what the file-descriptor limit (ulimit -n) leaves room for].",
)
@click.option("--no-ui", is_flag=True, help="Serve only the JSON API, without the web UI at /.")
@pass_session
def serve(
    session: Session,
    host: str,
    port: int,
    tokens_file: Path | None,
    insecure: bool,
    max_body_bytes: int,
    store_timeout: float | None,
    no_access_log: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    behind_tls_proxy: bool,
    header_timeout: float,
    body_timeout: float,
    max_header_bytes: int,
    max_connections: int | None,
    no_ui: bool,
) -> None:
    """Serve the registry over HTTP or HTTPS until SIGTERM or Ctrl-C.

    The web UI is at /, the JSON API under /api/v1, its OpenAPI document at /openapi.json.

    Example:

    \b
        modelreg --registry sqlite:////srv/modelreg/registry.db serve --host 0.0.0.0 \\
            --tokens-file /etc/modelreg/tokens --tls-cert /etc/modelreg/cert.pem --tls-key /etc/modelreg/key.pem
    """
    try:
        from ..server import serve as run_server
    except ImportError as exc:
        raise CliFailure(
            f"the server is not available ({exc}); install it with: pip install 'modelreg[server]'"
        ) from exc
    run_server(
        session.registry_url,
        host=host,
        port=port,
        tokens_file=str(tokens_file) if tokens_file is not None else None,
        insecure=insecure,
        max_body_bytes=max_body_bytes,
        store_timeout=store_timeout,
        access_log=not no_access_log,
        tls_cert=str(tls_cert) if tls_cert is not None else None,
        tls_key=str(tls_key) if tls_key is not None else None,
        behind_tls_proxy=behind_tls_proxy,
        ui=not no_ui,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        max_header_bytes=max_header_bytes,
        max_connections=max_connections,
    )
