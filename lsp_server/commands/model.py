"""`gorilla-lsp model ...`: converting models for the engine."""

from __future__ import annotations

import argparse

from lsp_server.commands.common import EXIT_MODEL, EXIT_OK, CliError


def cmd_model_convert(args: argparse.Namespace) -> int:
    from engine.convert import convert_model
    from engine.errors import EngineError

    try:
        result = convert_model(args.src, args.out, quantization=args.quantization, force=args.force,
                               trust_remote_code=args.trust_remote_code)
    except EngineError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc
    print(f"converted {result.source} into {result.output_dir} in {result.seconds:.0f} s")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser("model", help="Gorilla models").add_subparsers(dest="model_command", required=True)
    p = model.add_parser("convert", help="convert a Hugging Face checkpoint to CTranslate2 (needs the [convert] extra)")
    p.add_argument("src", help="a Hugging Face model id or local directory")
    p.add_argument("out", help="output directory")
    p.add_argument("--quantization", help="int8, int8_float16, float16, ...")
    p.add_argument("--force", action="store_true", help="overwrite OUT")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow the checkpoint's own model code (gorilla-falcon and gorilla-mpt need it)")
    p.set_defaults(func=cmd_model_convert)
