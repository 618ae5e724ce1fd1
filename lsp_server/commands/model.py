"""`gorilla-lsp model ...`: converting models for the engine (Hugging Face checkpoints, GGUF files) and trying them."""

from __future__ import annotations

import argparse
import sys
import time

from lsp_server.commands.common import EXIT_MODEL, EXIT_OK, EXIT_USAGE, CliError


def cmd_model_convert(args: argparse.Namespace) -> int:
    from engine.convert import convert_model, is_gguf_source
    from engine.errors import EngineError

    gguf = is_gguf_source(args.src)
    if args.verify and not gguf:
        raise CliError("--verify compares against a numpy forward pass of a GGUF file; SRC is not one", EXIT_USAGE)
    try:
        result = convert_model(args.src, args.out, quantization=args.quantization, force=args.force,
                               trust_remote_code=args.trust_remote_code)
        print(f"converted {result.source} into {result.output_dir} ({result.quantization or 'checkpoint type'}) "
              f"in {result.seconds:.1f} s")
        if args.verify:
            from engine.gguf_reference import verify_conversion

            print(f"verify: {verify_conversion(args.src, args.out, quantization=result.quantization).describe()}")
    except EngineError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc
    return EXIT_OK


def cmd_model_run(args: argparse.Namespace) -> int:
    """Raw generation: the text on stdout as it comes, the timings on stderr."""
    from engine.errors import EngineError
    from engine.generator import GenerationOptions, GorillaGenerator
    from engine.stopping import NO_STOP

    if args.max_tokens < 1:
        raise CliError(f"--max-tokens {args.max_tokens}: expected an integer >= 1", EXIT_USAGE)
    try:
        started = time.perf_counter()
        with GorillaGenerator(args.dir, device=args.device, compute_type=args.compute_type) as generator:
            loaded = time.perf_counter() - started
            prompt = generator.format_chat([{"role": "user", "content": args.prompt}]) if args.chat else args.prompt
            options = GenerationOptions(
                strategy="greedy" if args.temperature == 0 else "sample",
                temperature=args.temperature or 1.0,
                max_new_tokens=args.max_tokens,
                stop=NO_STOP,
            )
            shown = ""
            with generator.stream(prompt, options) as stream:
                for event in stream:
                    sys.stdout.write(event.text[len(shown):])
                    sys.stdout.flush()
                    shown = event.text
                result = stream.results()[0]
            info = generator.info()
    except EngineError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc
    final = result.candidates[0].text if result.candidates else shown
    sys.stdout.write(final[len(shown):] + "\n")
    generated = result.generated_tokens
    ttft = result.time_to_first_token_s
    decode_s = result.elapsed_s - (ttft or 0.0)
    rate = (generated - 1) / decode_s if generated > 1 and decode_s > 0 else float("nan")
    finish = result.candidates[0].finish_reason if result.candidates else "none"
    print(f"# {info.device} {info.compute_type}; load {loaded:.2f} s; prompt {result.prompt_tokens} tokens; "
          f"generated {generated} tokens ({finish}); TTFT {1000 * (ttft or 0.0):.0f} ms; {rate:.1f} tokens/s",
          file=sys.stderr)
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser("model", help="Gorilla models").add_subparsers(dest="model_command", required=True)
    p = model.add_parser("convert", help="convert a GGUF file (no torch) or a Hugging Face checkpoint (needs the "
                                         "[convert] extra) to CTranslate2")
    p.add_argument("src", help="a .gguf file, a Hugging Face model id or a local checkpoint directory")
    p.add_argument("out", help="output directory")
    p.add_argument("--quantization", help="int8, int8_float16, float16, bfloat16, float32, ... (GGUF default: int8 "
                                          "for a quantized file, else its float type)")
    p.add_argument("--force", action="store_true", help="overwrite OUT")
    p.add_argument("--verify", action="store_true",
                   help="GGUF only: compare the converted model's logits with a numpy forward pass of the file")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow the checkpoint's own model code (gorilla-falcon and gorilla-mpt need it)")
    p.set_defaults(func=cmd_model_convert)

    r = model.add_parser("run", help="generate from a converted model: the text, then TTFT and tokens/s")
    r.add_argument("dir", help="a CTranslate2 model directory (from `model convert`)")
    r.add_argument("prompt", help="the prompt text")
    r.add_argument("--chat", action="store_true", help="wrap PROMPT as a user turn with the model's chat template")
    r.add_argument("--max-tokens", type=int, default=64, help="new tokens at most (default 64)")
    r.add_argument("--temperature", type=float, default=0.0, help="0 (default): greedy; > 0: sampling")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--compute-type", default="auto", help="auto, int8, int8_float16, float16, float32, ...")
    r.set_defaults(func=cmd_model_run)
