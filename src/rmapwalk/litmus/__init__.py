"""herd7-style C litmus tests: parser, macro expansion, candidate executions, herd output."""
