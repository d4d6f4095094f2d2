"""``leafcube`` entry point: one sub-command per job, each defined by the package that owns it.

Sub-command modules are imported only when used, so ``leafcube get`` never
imports the server and ``leafcube --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command -> (module defining ``add_parser(subparsers)``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("leafcube.ingest.cli", "turn LEAF exports into COGs and a catalogue"),
    "demo": ("leafcube.ingest.demo_cli", "build (and serve) a small, realistic demo cube"),
    "serve": ("leafcube.server.cli", "serve a cube over HTTP/2"),
    "get": ("leafcube.client.cli", "extract an ROI and date range from a cube to files"),
    "deploy": ("leafcube.deploy.cli", "write (and run) an nginx + workers deployment"),
    "publish": ("leafcube.deploy.publish_cli", "copy a cube to a plain web server's folder"),
    "nets": ("leafcube.retrieval.cli", "train and inspect SL2P retrieval networks"),
}


#: Packages only an extra brings -> that extra (the base install is the client).
EXTRAS = {
    name: "server" for name in ("fastapi", "starlette", "granian", "morecantile", "rio_tiler")
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leafcube",
        description="leafcube: an open, stateless HTTP data cube for LEAF vegetation products.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        if name == wanted:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``leafcube``; user errors print one line, never a traceback.

    Sub-commands report what the user can fix by raising ValueError (or a subclass)
    or OSError (a missing or unwritable file): one line, exit status 2.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(argv)
    except ModuleNotFoundError as exc:
        command = next((a for a in argv if not a.startswith("-")), "")
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"leafcube {command}: error: needs leafcube's {extra} extra ({exc.name} is not "
            f"installed): pip install 'leafcube[{extra}]'",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, OSError) as exc:
        print(f"leafcube {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"leafcube {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
