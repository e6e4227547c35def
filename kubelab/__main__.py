import sys

from kubelab.cli import main

sys.exit(main())
