import sys

from app_ui.cli import main

sys.exit(main())
