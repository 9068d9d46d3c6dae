"""The `openrange` command line: one module a command group."""
