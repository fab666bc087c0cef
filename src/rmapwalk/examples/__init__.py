"""The tutorial's example models (``docs/tutorial.md``); each file also works with ``rmapwalk run``."""
