"""``arsip`` subcommands that live in modules of their own, and what every command shares."""
