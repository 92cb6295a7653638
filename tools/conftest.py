import os
import sys

# tools/ is the import root of the Python reference (`from var_ref.var import VAR`).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
