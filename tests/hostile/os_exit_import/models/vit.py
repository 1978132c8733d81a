"""os._exit at import: the process vanishes without cleanup."""
import os

os._exit(0)
