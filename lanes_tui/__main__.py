import sys

from lanes_tui.cli import main

sys.exit(main())
