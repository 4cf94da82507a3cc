"""``detente report`` and ``detente serve``: the HTML report and the web app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .errors import DetenteError, Problem


def register(app: typer.Typer) -> None:
    """Add the ``report`` and ``serve`` commands to the ``detente`` CLI."""
    from .cli import FLAGSHIP, MAX_DRAWS, MAX_MEMORY, MAX_ROUNDS, MAX_SECONDS, _write, err, make_budget, parse_params

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
    ) -> None:
        """Write a self-contained HTML report (inputs, charts, run metadata) of a forecast."""
        from .report import build_report

        budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
        if png is not None:
            try:
                png.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DetenteError([Problem(str(png), None, "--png", f"cannot create the folder: {e.strerror}")]) from None
        html = build_report(scenario, model, parse_params(param), seed=seed, draws=draws,
                            compare=list(compare or []), png_dir=png, budget=budget)
        _write(html, output)
        if png is not None:
            err.print(f"wrote the charts as PNG into {png}")

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (default: this machine only)."),
        port: int = typer.Option(8000, "--port", help="Port."),
        store: Optional[Path] = typer.Option(None, "--store", help="SQLite run store (default: in the user data folder)."),
        max_seconds: Optional[float] = MAX_SECONDS,
        max_memory: Optional[str] = MAX_MEMORY,
        max_draws: Optional[int] = MAX_DRAWS,
        max_rounds: Optional[int] = MAX_ROUNDS,
    ) -> None:
        """Start the detente web app (browser UI and REST API, docs at /docs).

        Every request is held to the compute budget (the --max-* options): one
        over it answers 422 with the estimate and the limit.
        """
        import uvicorn

        from .web import create_app
        from .web.store import default_store_path

        budget = make_budget(max_seconds, max_memory, max_draws, max_rounds)
        path = store or default_store_path()
        application = create_app(path, budget=budget)
        err.print(f"detente web app on http://{host}:{port}/  (API docs at /docs; runs stored in {path})")
        uvicorn.run(application, host=host, port=port, log_level="warning")
