"""`promobot validate` and `promobot schema`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.formats.schemas import committed_schema_path, schema_text
from bot.formats.validation import validate_paths

HINT = (
    "hint: fix each field at the line shown; `promobot schema manifest|policy` prints every "
    "allowed field with its description."
)


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Manifest and policy files or folders.")],
) -> None:
    """Check manifests and policies; print `path:line:column: field: message` per problem."""
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        for path in missing:
            typer.echo(f"{path}: no such file or folder", err=True)
        raise typer.Exit(2)
    report = validate_paths(paths)
    for problem in report.problems:
        typer.echo(str(problem))
    if report.problems:
        typer.echo(f"{len(report.problems)} problem(s) in {len(report.checked)} file(s)")
        typer.echo(HINT)
        raise typer.Exit(1)
    typer.echo(f"{len(report.checked)} file(s) valid")


class SchemaKind(StrEnum):
    """Which file format."""

    MANIFEST = "manifest"
    POLICY = "policy"
    DECISION = "decision"


def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="`manifest`, `policy` or `decision`.")],
    write: Annotated[
        bool, typer.Option("--write", help="Also write the committed copy under bot/schemas/.")
    ] = False,
) -> None:
    """Print the JSON Schema of a file format."""
    text = schema_text(kind.value)
    if write:
        committed_schema_path(kind.value).write_text(text, encoding="utf-8")
    typer.echo(text, nl=False)


def verify_record(
    record: Annotated[Path, typer.Argument(help="A `<model>.decision.json` record.")],
    allowed_signers: Annotated[
        Path,
        typer.Option(
            "--allowed-signers",
            help="OpenSSH allowed-signers file: `IDENTITY KEY-TYPE PUBLIC-KEY` per line.",
        ),
    ],
    identity: Annotated[
        str, typer.Option("--identity", help="Whose signature it must be, as in that file.")
    ] = "promobot",
    signature: Annotated[
        Path | None,
        typer.Option("--signature", help="The signature; default: the record's path + .sig."),
    ] = None,
) -> None:
    """Check a decision record's SSH signature (as `ssh-keygen -Y verify` does)."""
    from bot.errors import UserInputError  # noqa: PLC0415 - keep `validate` light
    from bot.formats.limits import RefusedFile, read_text_file  # noqa: PLC0415
    from bot.signing import SIGNATURE_SUFFIX, verify_text  # noqa: PLC0415

    sig_path = signature or record.with_name(record.name + SIGNATURE_SUFFIX)
    try:
        text = read_text_file(record, str(record))
        sig = read_text_file(sig_path, str(sig_path))
        result = verify_text(text, sig, allowed_signers, identity)
    except RefusedFile as error:
        typer.echo(str(error.problem), err=True)
        raise typer.Exit(2) from error
    except UserInputError as error:
        typer.echo(f"{error}\nhint: {error.hint}" if error.hint else str(error), err=True)
        raise typer.Exit(2) from error
    typer.echo(result.message or ("good signature" if result.ok else "bad signature"))
    if not result.ok:
        raise typer.Exit(1)
