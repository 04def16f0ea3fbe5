"""The ``aerec`` command: a thin layer that parses options and calls one library function."""

from __future__ import annotations

import errno
import sys

import click

from aerec.errors import AerecError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aerec")
def cli() -> None:
    """Autoencoder collaborative filtering on explicit ratings."""


def _register() -> None:
    from aerec.cli import data as data_cmds
    from aerec.cli import experiment as _experiment_and_report  # noqa: F401 - adds both commands
    from aerec.cli import train as train_cmds
    from aerec.cli import tune as tune_cmds

    cli.add_command(data_cmds.data)
    cli.add_command(tune_cmds.tune)
    for command in (
        train_cmds.train,
        train_cmds.evaluate,
        train_cmds.recommend,
        train_cmds.run_job,
    ):
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 2."""
    try:
        _register()  # imports torch: seconds, during which Ctrl-C must not print a traceback
        cli.main(args=argv, prog_name="aerec", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except AerecError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            click.echo(
                f"error: no space left on device writing{where}; free some space and run the "
                "same command again",
                err=True,
            )
            sys.exit(2)
        click.echo(
            f"error: cannot access{where}: {exc.strerror or exc}; check the path and "
            "its permissions",
            err=True,
        )
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
