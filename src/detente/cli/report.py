"""``detente report`` and ``detente serve``: the HTML report and the web app."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import DetenteError, Problem


def register(app: typer.Typer) -> None:
    """Add the ``report`` and ``serve`` commands to the ``detente`` CLI."""
    from ._common import (
        FLAGSHIP,
        MAX_DRAWS,
        MAX_MEMORY,
        MAX_ROUNDS,
        MAX_SECONDS,
        SCHEDULER,
        WORKERS,
        _write,
        cluster,
        err,
        make_budget,
        parse_params,
        write_failure,
    )

    @app.command()
    def report(
        scenario: str = typer.Argument(FLAGSHIP, help="Scenario file or a shipped example's name."),
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name (see `detente models`)."),
        param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Model parameter key=value (repeatable)."),
        draws: int = typer.Option(0, "--draws", "-n", min=0, help="Monte Carlo draws (0: none)."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed for draws and stochastic models."),
        compare: Optional[list[str]] = typer.Option(None, "--compare", "-c", help="Another scenario to compare (repeatable)."),
        output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
        png: Optional[Path] = typer.Option(None, "--png", help="Also write every chart as a PNG into this folder."),
        max_seconds: Optional[float] = MAX_SECONDS,
        max_memory: Optional[str] = MAX_MEMORY,
        max_draws: Optional[int] = MAX_DRAWS,
        max_rounds: Optional[int] = MAX_ROUNDS,
        scheduler: Optional[str] = SCHEDULER,
        workers: Optional[int] = WORKERS,
    ) -> None:
        """Write a self-contained HTML report (inputs, charts, run metadata) of a forecast."""
        from ..report import build_report

        budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
        if png is not None:
            try:
                png.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DetenteError([Problem(str(png), None, "--png", write_failure(e))]) from None
        try:
            with cluster(scheduler, workers):
                html = build_report(scenario, model, parse_params(param), seed=seed, draws=draws,
                                    compare=list(compare or []), png_dir=png, budget=budget)
        except OSError as e:  # writing a chart's PNG (reading the scenario fails as a DetenteError)
            if png is None:
                raise
            raise DetenteError([Problem(str(png), None, "--png", write_failure(e))]) from None
        _write(html, output)
        if png is not None:
            err.print(f"wrote the charts as PNG into {png}")

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (default: this machine only). "
                                 "Any other address needs an access token (--token)."),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port."),
        store: Optional[Path] = typer.Option(None, "--store", help="SQLite run store (default: in the user data folder)."),
        token: Optional[str] = typer.Option(None, "--token", envvar="DETENTE_TOKEN", show_envvar=True,
                                            help="Access token every API request must carry (Authorization: Bearer); "
                                                 "'generate' makes one and prints it. Required off loopback."),
        allow_host: Optional[list[str]] = typer.Option(None, "--allow-host", help="A further Host name the server "
                                                       "answers to (repeatable; '*' for any). Default: the loopback "
                                                       "names and the bound host."),
        workers: int = typer.Option(2, "--workers", min=1, max=64, help="Computations running at once."),
        queue: int = typer.Option(8, "--queue", min=0, max=10_000, help="Computations waiting at most (429 beyond)."),
        max_body: float = typer.Option(5.0, "--max-body", min=0.001, max=1024, help="Largest request body, MB (413 beyond)."),
        max_connections: int = typer.Option(100, "--max-connections", min=1, max=100_000,
                                            help="Open connections at most (503 beyond)."),
        max_seconds: Optional[float] = MAX_SECONDS,
        max_memory: Optional[str] = MAX_MEMORY,
        max_draws: Optional[int] = MAX_DRAWS,
        max_rounds: Optional[int] = MAX_ROUNDS,
        scheduler: Optional[str] = typer.Option(None, "--scheduler", rich_help_panel="Cluster (Dask)", show_default=False,
                                                help="Run the model runs of every request and job on this running "
                                                     "Dask scheduler, e.g. tcp://10.0.0.5:8786 (see docs/scale.md)."),
    ) -> None:
        """Start the detente web app (browser UI and REST API, docs at /docs).

        Every request is held to the compute budget (the --max-* options): one
        over it answers 422 with the estimate and the limit. Off this machine
        (--host) it needs an access token (--token); see docs/web.md.
        """
        import secrets

        from ..web import create_app
        from ..web.guard import LOOPBACK_HOSTS, host_name
        from ..web.store import StoreError, default_store_path

        loopback = is_loopback(host)
        if token == "generate":
            token = secrets.token_urlsafe(24)
            err.print(f"access token: {token}\n(clients send it as 'Authorization: Bearer TOKEN'; the page asks for it once)")
        if token is not None and len(token) < 16:
            raise DetenteError([Problem(None, None, "--token", "an access token needs at least 16 characters "
                                        "(--token generate makes a good one)")])
        if not loopback and not token:
            raise DetenteError([Problem(None, None, "--host", f"{host} opens the app to other machines, so it needs an "
                                        "access token: give --token TOKEN (or set DETENTE_TOKEN), or --token generate "
                                        "to have one made and printed. Clients send it as 'Authorization: Bearer "
                                        "TOKEN'; the page asks for it once. See docs/web.md.")])
        hosts: list[str] | None = [*LOOPBACK_HOSTS, *bound_names(host)]
        for h in allow_host or []:
            if h.strip() == "*":
                hosts = None
                break
            hosts.append(host_name(h))  # type: ignore[union-attr]
        budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
        path = store or default_store_path()
        with cluster(scheduler) as ex:
            try:
                application = create_app(path, workers=workers, queue=queue, max_body=int(max_body * 1024 * 1024),
                                         allow_hosts=hosts, token=token, budget=budget, executor=ex)
            except StoreError as e:
                raise DetenteError([Problem(str(path), None, "--store", str(e))]) from None
            _serve(application, host, port, max_connections, hosts, loopback, path)


def _serve(application: Any, host: str, port: int, max_connections: int, hosts: list[str] | None, loopback: bool,
           path: Any) -> None:
    """Run the web app with uvicorn until it is stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    from ._common import err

    interrupted = application.api.state.runs.interrupted
    if interrupted:
        err.print(f"{interrupted} job(s) that were running when the server last stopped are marked interrupted")

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            application.stop()  # every computation stops at its next step; waiting requests answer 503
            super().handle_exit(sig, frame)

    config = uvicorn.Config(application, host=host, port=port, log_level="warning",
                            limit_concurrency=max_connections, timeout_graceful_shutdown=5)
    server = Server(config)
    shown = f"[{host}]" if ":" in host else host
    err.print(f"detente web app on http://{shown}:{port}/  (API docs at /docs; runs stored in {path})")
    if hosts is not None and not loopback:
        err.print(f"answers to the host names {', '.join(hosts)} (add others with --allow-host)")
    try:
        server.run()
    except SystemExit:  # uvicorn's own exit when it cannot bind
        pass
    if not server.started:
        raise DetenteError([Problem(None, None, "--port", f"could not listen on {shown}:{port} (see the message above)")])


def is_loopback(host: str) -> bool:
    """True for an address or name of this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def bound_names(host: str) -> list[str]:
    """The Host names a server bound to ``host`` answers to besides the loopback names.

    The bound address itself; for an unspecified address (0.0.0.0, ::) this
    machine's name, full name and addresses.
    """
    import ipaddress
    import socket

    from ..web.guard import host_name

    h = host.strip().strip("[]")
    try:
        unspecified = ipaddress.ip_address(h).is_unspecified
    except ValueError:
        unspecified = False
    if not unspecified:
        return [host_name(h)]
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]))
    except OSError:
        pass
    return sorted(host_name(n) for n in names if n)
