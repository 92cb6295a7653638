import os

# One BLAS thread and one torch thread per test process (set before torch loads libblas): the tests check
# numbers, not speed, and the 2-core machines they run on are shared.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import torch

torch.set_num_threads(int(os.environ.get('VAR_TEST_TORCH_THREADS', '1')))
