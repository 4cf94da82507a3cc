"""``detente --help`` imports only what it shows (issue #17): typer and rich, not rich's markdown
(markdown-it, pygments) nor its tracebacks, which typer imports for features detente's help does not use;
those load on first use instead (detente.cli._lazy), and work as before."""

from __future__ import annotations

import subprocess
import sys

PROBE = (
    "import sys\n"
    "from detente.cli import main\n"
    "code = main({argv!r})\n"
    "print('MODULES', sorted(m for m in sys.modules if m.split('.')[0] in "
    "('markdown_it', 'pygments', 'numpy', 'pandas', 'matplotlib') or m in "
    "('rich.markdown', 'rich.traceback', 'rich.syntax', 'rich.pretty', 'detente._parse')\n"
    "    if not getattr(sys.modules[m], '_detente_deferred', False)))  # a stand-in is not the module\n"
    "print('CODE', code)\n"
)


def _probe(argv: list[str]) -> tuple[str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                          timeout=300, check=True)
    lines = proc.stdout.splitlines()
    loaded = next(line for line in lines if line.startswith("MODULES "))
    assert lines[-1] == "CODE 0", proc.stdout + proc.stderr
    return "\n".join(line for line in lines if not line.startswith(("MODULES ", "CODE "))), eval(loaded[8:])


def test_help_loads_no_markdown_tracebacks_or_numerics():
    for argv in (["--help"], ["forecast", "--help"], ["report", "--help"]):
        text, loaded = _probe(argv)
        assert loaded == [], (argv, loaded)
        assert "Usage: detente" in text


def test_help_is_the_same_with_the_real_modules():
    """The help reads the same when rich's markdown and traceback are imported up front."""
    for argv in (["--help"], ["forecast", "--help"]):
        deferred, _ = _probe(argv)
        eager = subprocess.run([sys.executable, "-c", "import rich.markdown, rich.traceback\n" + PROBE.format(argv=argv)],
                               capture_output=True, text=True, timeout=300, check=True).stdout
        assert deferred == "\n".join(x for x in eager.splitlines() if not x.startswith(("MODULES ", "CODE ")))


def test_deferred_modules_work_on_first_use():
    code = (
        "import sys, io\n"
        "from detente.cli._lazy import defer\n"
        "defer()\n"
        "from rich.markdown import Markdown\n"
        "from rich.traceback import Traceback\n"
        "assert 'markdown_it' not in sys.modules\n"
        "from rich.console import Console\n"
        "c = Console(file=io.StringIO(), width=40)\n"
        "m = Markdown('# Title\\n\\n*some* text')\n"
        "c.print(m)\n"
        "import rich.markdown as real\n"
        "assert isinstance(m, real.Markdown) and isinstance(m, Markdown) and not isinstance(1, Markdown)\n"
        "assert 'markdown_it' in sys.modules and real.Markdown is not Markdown\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError as e:\n"
        "    tb = Traceback.from_exception(type(e), e, e.__traceback__)\n"
        "c.print(tb)\n"
        "out = c.file.getvalue()\n"
        "assert 'Title' in out and 'ZeroDivisionError' in out, out\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_console_script_ends_without_teardown_keeping_exit_codes_and_handlers(tmp_path):
    """``detente.cli.finish``: the command's exit code, its output flushed, the exit handlers run (here one
    that writes a file), for a command that succeeds and one that fails on bad input (2)."""
    for argv, code, says in ((["models"], 0, "bdm"), (["forecast", str(tmp_path / "nope.yaml")], 2, "not found")):
        mark = tmp_path / f"handler-{code}"
        script = (f"import atexit, sys; atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
                  f"sys.argv = ['detente', *{argv!r}]\nfrom detente.__main__ import run\nrun()")
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert says in proc.stdout + proc.stderr
        assert mark.read_text() == "ran"
