"""The command lines: `python -m explorer train ...` trains one model, `python -m explorer sweep ...` a sweep."""

import sys

COMMANDS = {"train": "trains one model and saves a checkpoint", "sweep": "trains a truncation or memory sweep"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        lines = [f"  {name:6} {what}" for name, what in COMMANDS.items()]
        print("usage: python -m explorer {train,sweep} [--help] ...", *lines, sep="\n", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    if argv[0] == "train":
        from explorer.training.cli import main

        return main(argv[1:])
    from explorer.experiments.cli import main
    from explorer.readings.sweep import sweep_reading

    return main(argv[1:], describe=sweep_reading)


if __name__ == "__main__":
    raise SystemExit(main())
