"""``python -m voc.cli``: the same app as the ``voc`` script."""

from voc.cli import main

main()
