"""``python -m rmapwalk.cli``: the ``rmapwalk`` command."""

from rmapwalk.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
