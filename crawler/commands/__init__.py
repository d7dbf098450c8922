"""The ``arsip`` subcommands, one module per command or group; ``crawler/cli.py`` registers them.

Each command is a thin click function over a library function (see ``common`` for what they
share: ``--data-dir``/``--db``, expected errors, exit codes).
"""
