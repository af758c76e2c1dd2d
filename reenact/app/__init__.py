"""Thin entry points behind the command line: argument checks, file I/O, progress bars."""
