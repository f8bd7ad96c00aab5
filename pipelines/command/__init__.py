"""The command: one typed, frozen run request from the command line, checked in one place.

`cli` parses the command line into a `request.RunRequest`; `settings` resolves and checks
every setting of each pipeline the run loads (the run and `--dry-run` call the same check);
`run` then runs the dry run or the load of each pipeline. `launch` is the process around it:
untested versions refused, unused modules kept out, logging, one line per failure.

Imports nothing, so the entry point's start-up modules (`lean_gc`, `versions`) load bare.
"""
